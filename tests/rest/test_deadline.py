"""REST deadlines from the Request-Timeout header, V2 parameters.timeout and the server default."""

from __future__ import annotations

import time

import pytest

from moorings.errors import InvalidArgument
from moorings.http1.messages import Request
from moorings.rest.deadline import deadline


def request(*headers: tuple[bytes, bytes]) -> Request:
    return Request("POST", b"/v1/models/m:predict", list(headers), b"{}")


def left(value: float | None) -> float:
    assert value is not None
    return value - time.monotonic()


def test_no_header_no_default_no_deadline() -> None:
    assert deadline(request()) is None
    assert deadline(request(), 0.0, 0) is None  # V2 timeout 0 means none, as Triton reads it


def test_the_header_sets_the_deadline_in_seconds() -> None:
    assert 0.2 < left(deadline(request((b"request-timeout", b" 0.25 ")))) <= 0.25


def test_the_shortest_of_header_default_and_v2_timeout_wins() -> None:
    assert 0.9 < left(deadline(request(), 1.0)) <= 1.0
    assert left(deadline(request((b"request-timeout", b"5")), 1.0)) <= 1.0
    assert left(deadline(request((b"request-timeout", b"0.5")), 10.0)) <= 0.5
    assert left(deadline(request((b"request-timeout", b"5")), 10.0, 100_000)) <= 0.1


@pytest.mark.parametrize("value", [b"", b"abc", b"0", b"-1", b"nan", b"inf", b"1e300", b"+1", b" 1 2"])
def test_a_bad_header_is_a_400_that_names_it(value: bytes) -> None:
    with pytest.raises(InvalidArgument, match="Request-Timeout header must be a number of seconds"):
        deadline(request((b"request-timeout", value)))


@pytest.mark.parametrize("value", [-1, 1.5, "100", True, [1], 10**20])
def test_a_bad_v2_timeout_is_a_400_that_names_it(value: object) -> None:
    with pytest.raises(InvalidArgument, match=r"parameters\.timeout must be a whole number of microseconds"):
        deadline(request(), 0.0, value)

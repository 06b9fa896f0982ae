from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from moorings.errors import InvalidArgument
from moorings.fetch.references import MAX_REFERENCES, find, may_hold_references


def test_finds_references_in_rows_columns_and_nested_lists() -> None:
    body: dict[str, Any] = {
        "instances": [
            {"image": {"url": "s3://b/1"}, "n": [1, 2]},
            {"image": {"url": "s3://b/2"}, "n": [3, 4]},
        ],
        "inputs": {"url": "s3://b/top"},
        "other": [[{"url": "s3://b/deep"}], {"b64": "AA=="}, np.zeros(3)],
    }
    found = find(body)
    assert sorted(r.url for r in found) == ["s3://b/1", "s3://b/2", "s3://b/deep", "s3://b/top"]
    for reference in found:
        reference.put(reference.url.encode())
    assert body["instances"][1]["image"] == b"s3://b/2"
    assert body["inputs"] == b"s3://b/top"
    assert body["other"][0] == [b"s3://b/deep"]


def test_only_single_key_objects_with_a_string_are_references() -> None:
    body = {"a": [{"url": 3}, {"url": "s3://b/k", "x": 1}, {"URL": "s3://b/k"}]}
    assert find(body) == []


def test_the_root_itself_is_not_a_reference() -> None:
    assert find({"url": "s3://b/k"}) == []


def test_too_many_references() -> None:
    body = {"instances": [{"url": f"s3://b/{i}"} for i in range(MAX_REFERENCES + 1)]}
    with pytest.raises(InvalidArgument, match=f"at most {MAX_REFERENCES} input URLs"):
        find(body)


def test_deep_nesting_does_not_recurse() -> None:
    value: list[Any] = [{"url": "s3://b/k"}]
    for _ in range(50_000):
        value = [value]
    assert len(find({"inputs": value})) == 1


def test_raw_marker() -> None:
    assert may_hold_references(b'{"instances": [{"url" : "s3://b/k"}]}')
    assert not may_hold_references(bytearray(b'{"instances": [[1, 2]]}'))


@pytest.mark.parametrize(
    "raw",
    [b'"url"', b'xx"url"', b'{"url": 1}', b"null" * 20 + b'"url"', b"l" * 40 + b'"url"', b'l"url"l'],
)
def test_marker_found(raw: bytes) -> None:
    assert (
        may_hold_references(raw)
        and may_hold_references(bytearray(raw))
        and may_hold_references(memoryview(raw))
    )


@pytest.mark.parametrize(
    "raw", [b"", b'url"', b'"ur', b'"ur l"', b"l" * 40, b'{"inputs": [1.0, null, false]}']
)
def test_marker_absent(raw: bytes) -> None:
    assert not may_hold_references(raw)

"""Odd credentials get 401, never a crash, and the answer never repeats what was sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from moorings.admin.app import AdminApp
from moorings.auth.rest import RestGuard
from moorings.auth.tokens import TokenFile
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.http1.messages import Request
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp

TOKEN = b"the-real-token-e4"
ODD: list[list[tuple[bytes, bytes]]] = [
    [(b"authorization", b"")],
    [(b"authorization", b"Bearer")],
    [(b"authorization", b"Bearer " + b"A" * 60_000)],
    [(b"authorization", b"Bearer \xff\xfe\x00secret-ish")],
    [(b"authorization", b"Bearer " + TOKEN + b" extra")],
    [(b"authorization", b"Basic " + TOKEN)],
    [(b"authorization", TOKEN)],
    [(b"authorization", b"Bearer wrong"), (b"authorization", b"Bearer " + TOKEN)],
    [(b"x-api-key", b"\x00")],
    [(b"x-api-key", TOKEN[:-1])],
    [(b"x-api-key", TOKEN.upper())],
    [(b"authorization", b"Bearer x"), (b"x-api-key", TOKEN)],  # Authorization is the one checked
]


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[RestApp, AdminApp]]:
    (tmp_path / "repo").mkdir()
    manager = Manager(LocalSource(tmp_path / "repo"), Loader(tmp_path / "repo"))
    dataplane = DataPlane(manager, inference_threads=1)
    (tmp_path / "tokens").write_bytes(TOKEN + b"\n")
    tokens = TokenFile(tmp_path / "tokens")
    yield RestApp(dataplane, 1 << 20, guard=RestGuard(tokens)), AdminApp(manager, tokens)
    dataplane.close()


@pytest.mark.parametrize("headers", ODD, ids=range(len(ODD)))
def test_odd_credentials_are_refused(
    apps: tuple[RestApp, AdminApp], headers: list[tuple[bytes, bytes]]
) -> None:
    for app in apps:
        status, body, answer_headers = asyncio.run(app.handle(Request("GET", b"/v1/models", headers, b"")))
        assert status == 401
        assert (b"www-authenticate", b'Bearer realm="moorings", error="invalid_token"') in answer_headers
        message = orjson.loads(body)["error"]
        assert "secret-ish" not in message and "AAAA" not in message and "wrong" not in message


def test_the_real_token_opens_both(apps: tuple[RestApp, AdminApp]) -> None:
    rest, admin = apps
    bearer = [(b"authorization", b"Bearer " + TOKEN)]
    assert asyncio.run(rest.handle(Request("GET", b"/v1/models", bearer, b"")))[0] == 200
    assert asyncio.run(admin.handle(Request("POST", b"/v2/repository/index", bearer, b"")))[0] == 200

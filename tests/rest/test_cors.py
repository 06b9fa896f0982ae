"""Cross-origin requests: off by default, then only for the origins the operator allows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from moorings.rest.app import RestApp
from tests.support import onnx_models
from tests.support.asgi import serving_app

APP_ORIGIN = "https://app.example"
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cors")
    onnx_models.write_mlp(root / "mlp" / "1")
    return root


@pytest.fixture(scope="module")
def app(repo: Path) -> Iterator[RestApp]:
    with serving_app(repo) as served:
        yield served


def send(app: RestApp, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, headers=headers, content=body)

    return asyncio.run(go())


def test_off_by_default(app: RestApp) -> None:
    assert app.cors is None
    assert send(app, "OPTIONS", "/v1/models/mlp:predict", PREFLIGHT).status_code == 405
    answer = send(app, "GET", "/v1/models/mlp", {"Origin": APP_ORIGIN})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_allowed_origin(app: RestApp) -> None:
    allowed = RestApp(app.dataplane, app.max_body_bytes, cors_origins=(APP_ORIGIN,))
    preflight = send(allowed, "OPTIONS", "/v1/models/mlp:predict", PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    body = b'{"instances": [[0.1, 0.2, 0.3, 0.4]]}'
    answer = send(allowed, "POST", "/v1/models/mlp:predict", {"Origin": APP_ORIGIN}, body)
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert answer.headers["vary"] == "origin"
    error = send(allowed, "GET", "/v1/models/absent", {"Origin": APP_ORIGIN})
    assert error.status_code == 404 and error.headers["access-control-allow-origin"] == APP_ORIGIN


def test_other_origins_get_no_cors_headers(app: RestApp) -> None:
    allowed = RestApp(app.dataplane, app.max_body_bytes, cors_origins=(APP_ORIGIN,))
    other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    assert send(allowed, "OPTIONS", "/v1/models/mlp:predict", other).status_code == 405
    answer = send(allowed, "GET", "/v1/models/mlp", {"Origin": "https://evil.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_any_origin(app: RestApp) -> None:
    anyone = RestApp(app.dataplane, app.max_body_bytes, cors_origins=("*",))
    answer = send(anyone, "GET", "/v1/models/mlp", {"Origin": "https://elsewhere.example"})
    assert answer.headers["access-control-allow-origin"] == "*"

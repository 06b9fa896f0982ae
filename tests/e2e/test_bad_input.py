"""Hostile and malformed requests against a real server process: each a clear 4xx, the server stays up."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.support import onnx_models
from tests.support.server import RunningServer, raw_http, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    repo = tmp_path_factory.mktemp("bad-input") / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1")
    with running_server(repo, "--max-body-mb", "1") as running:
        yield running


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (b"/v1/models/..", "invalid model name"),
        (b"/v1/models/../../etc/passwd", "no such route"),
        (b"/v1/models/%2e%2e", "invalid model name"),
        (b"/v1/models/%2e%2e%2f%2e%2e%2fetc", "invalid model name"),
        (b"/v1/models/mlp%00", "invalid model name"),
        (b"/v1/models/" + b"m" * 300, "invalid model name"),
        (b"/v1/models/%ff%fe", "not valid UTF-8"),
        (b"/v1/models/mlp/versions/99999999999999999999999", "invalid version"),
    ],
)
def test_path_like_names_are_rejected(server: RunningServer, target: bytes, message: str) -> None:
    status, body = raw_http(
        server.rest_port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert 400 <= status < 500
    error = orjson.loads(body)["error"]
    assert message in error
    assert "/tmp" not in error


def test_bad_bodies(server: RunningServer) -> None:
    url = f"{server.url}/v1/models/mlp:predict"
    cases = [
        (b"{not json", 400, "malformed JSON"),
        (b'{"instances": [[1, 2]]}', 400, "shape [1, 2]"),
        (b'{"instances": [[true, false, true, false]]}', 400, "expected float32"),
        (b'{"inputs": {"x": [[1, 2, 3, 4]], "z": 1}}', 400, "unknown input 'z'"),
        (b'{"instances": [[1, 2, 3, 4]], "inputs": {}}', 400, "exactly one of"),
        (b'{"instances": [[1e400, 2, 3, 4]]}', 400, "malformed JSON"),
    ]
    for body, status, message in cases:
        r = httpx.post(url, content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["error"], (body, r.text)


def test_huge_body_is_413(server: RunningServer) -> None:
    body = b'{"instances": [' + b"[1,2,3,4]," * 200_000 + b"[1,2,3,4]]}"
    r = httpx.post(f"{server.url}/v1/models/mlp:predict", content=body)
    assert r.status_code == 413
    assert "limit" in r.json()["error"]
    # chunked upload without a Content-Length is cut off too
    r = httpx.post(f"{server.url}/v1/models/mlp:predict", content=iter([body[:600_000], body[600_000:]]))
    assert r.status_code == 413


def test_unknown_model_and_server_still_up(server: RunningServer) -> None:
    r = httpx.post(f"{server.url}/v1/models/ghost:predict", json={"instances": [1]})
    assert r.status_code == 404 and "'ghost' is not served" in r.json()["error"]
    r = httpx.post(f"{server.url}/v1/models/mlp:predict", json={"instances": [[1, 2, 3, 4]]})
    assert r.status_code == 200
    assert server.process.poll() is None

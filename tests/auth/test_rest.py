"""The REST check in the app itself (ASGI, in-process): 401s, exempt probes, the read-only data plane."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from moorings.auth.rest import RestGuard
from moorings.auth.tokens import TokenFile
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from moorings.search.faiss_store import FaissBackend
from moorings.search.service import Collections
from tests.support import onnx_models

TOKEN = "rest-token-4f1c2a"
X = [[0.1, 0.2, 0.3, 0.4]]


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[DataPlane, Collections, TokenFile]]:
    repo = tmp_path / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1")
    manager = Manager(LocalSource(repo), Loader(repo))
    manager.poll_once()
    manager.wait_until_idle(60)
    dataplane = DataPlane(manager, inference_threads=1)
    collections = Collections(FaissBackend(tmp_path / "data"))
    (tmp_path / "tokens").write_text(f"# tokens\n{TOKEN}\n")
    yield dataplane, collections, TokenFile(tmp_path / "tokens")
    collections.close()
    manager.stop()
    dataplane.close()


def request(
    app: RestApp, method: str, path: str, headers: dict[str, str] | None = None, **kw: object
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


BEARER = {"authorization": f"Bearer {TOKEN}"}


def test_every_route_but_the_probes_needs_the_token(parts: tuple[DataPlane, Collections, TokenFile]) -> None:
    dataplane, collections, tokens = parts
    app = RestApp(dataplane, 1 << 20, collections=collections, guard=RestGuard(tokens))
    for method, path in [
        ("GET", "/"),
        ("GET", "/v1/models/mlp"),
        ("POST", "/v1/models/mlp:predict"),
        ("POST", "/v2/models/mlp/infer"),
        ("GET", "/v2/models/mlp"),
        ("GET", "/v1/collections"),
        ("GET", "/metrics"),
        ("GET", "/no/such/route"),
    ]:
        r = request(app, method, path)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == 'Bearer realm="moorings"'
        assert "requires a token" in r.json()["error"]
    assert request(app, "GET", "/v2/health/live").status_code == 200
    assert request(app, "GET", "/v2/health/ready").status_code == 200
    wrong = request(app, "GET", "/v1/models/mlp", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    ok = request(app, "POST", "/v1/models/mlp:predict", headers=BEARER, json={"instances": X})
    assert ok.status_code == 200 and len(ok.json()["predictions"][0]) == 3
    key = request(app, "POST", "/v2/models/mlp/infer", headers={"x-api-key": TOKEN}, json={
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": X}]
    })  # fmt: skip
    assert key.status_code == 200


def test_a_compressed_body_is_not_decompressed_without_a_token(
    parts: tuple[DataPlane, Collections, TokenFile],
) -> None:
    dataplane, _, tokens = parts
    app = RestApp(dataplane, 1 << 20, guard=RestGuard(tokens))
    r = request(
        app, "POST", "/v1/models/mlp:predict", headers={"content-encoding": "gzip"}, content=b"not gzip"
    )
    assert r.status_code == 401


def test_read_only_data_plane_refuses_collection_writes(
    parts: tuple[DataPlane, Collections, TokenFile],
) -> None:
    dataplane, collections, _ = parts
    where = "make them on the admin port (127.0.0.1:9999) with an admin token"
    app = RestApp(dataplane, 1 << 20, collections=collections, read_only=where)
    for method, path, body in [
        ("POST", "/v1/collections", {"name": "films", "dim": 2}),
        ("DELETE", "/v1/collections/films", None),
        ("POST", "/v1/collections/films:upsert", {"items": []}),
        ("POST", "/v1/collections/films:delete", {"ids": ["a"]}),
    ]:
        r = request(app, method, path, json=body)
        assert r.status_code == 403 and "127.0.0.1:9999" in r.json()["error"], (method, path)
    assert request(app, "GET", "/v1/collections").json() == {"collections": []}
    search = request(app, "POST", "/v1/collections/films:search", json={"vector": [1, 0]})
    assert search.status_code == 404  # reads are served: no such collection
    repo = request(app, "POST", "/v2/repository/index")
    assert repo.status_code == 403 and "--admin-port" in repo.json()["error"]

"""The management API in-process over a real manager, repository and collections."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from moorings.admin.app import AdminApp
from moorings.auth.tokens import TokenFile
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.errors import Unavailable
from moorings.http1.messages import Request
from moorings.repository.source import LocalSource
from moorings.search.faiss_store import FaissBackend
from moorings.search.service import Collections
from moorings.types import ModelRef
from tests.support import onnx_models

ADMIN = b"admin-token-93b1"


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[AdminApp]:
    repo = tmp_path / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1")
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "1" / "model.onnx").write_bytes(b"not an onnx model")
    manager = Manager(LocalSource(repo), Loader(repo))
    manager.poll_once()
    manager.wait_until_idle(60)
    collections = Collections(FaissBackend(tmp_path / "data"))
    (tmp_path / "admin-tokens").write_text(ADMIN.decode() + "\n")
    yield AdminApp(manager, TokenFile(tmp_path / "admin-tokens", "--admin-token-file"), collections)
    collections.close()
    manager.stop()


def call(
    app: AdminApp, method: str, path: str, body: Any = None, token: bytes | None = ADMIN
) -> tuple[int, Any]:
    headers = [(b"authorization", b"Bearer " + token)] if token is not None else []
    raw = b"" if body is None else orjson.dumps(body)
    status, answer, _ = asyncio.run(app.handle(Request(method, path.encode(), headers, raw)))
    return status, orjson.loads(answer)


def test_every_admin_route_needs_the_admin_token(admin: AdminApp) -> None:
    for method, path in [
        ("POST", "/v2/repository/index"),
        ("POST", "/v2/repository/models/mlp/unload"),
        ("POST", "/v1/collections"),
        ("POST", "/v1/admin/reload"),
        ("GET", "/v2/health/live"),
    ]:
        assert call(admin, method, path, token=None)[0] == 401
        assert call(admin, method, path, token=b"wrong")[0] == 401
    assert admin.manager.acquire(ModelRef("mlp")).servable is not None  # nothing was unloaded


def test_index_lists_models_with_state_and_reason(admin: AdminApp) -> None:
    status, index = call(admin, "POST", "/v2/repository/index")
    assert status == 200
    by_name = {e["name"]: e for e in index}
    assert by_name["mlp"] == {"name": "mlp", "version": "1", "state": "READY", "reason": ""}
    assert (
        by_name["broken"]["state"] == "UNAVAILABLE" and "could not be loaded" in by_name["broken"]["reason"]
    )
    assert [e["name"] for e in call(admin, "POST", "/v2/repository/index", {"ready": True})[1]] == ["mlp"]
    assert call(admin, "POST", "/v2/repository/index", {"ready": "yes"})[0] == 400


def test_unload_pins_a_model_off_until_it_is_loaded(admin: AdminApp) -> None:
    manager = admin.manager
    assert call(admin, "POST", "/v2/repository/models/mlp/unload") == (200, {"name": "mlp", "unloaded": True})
    manager.wait_until_idle(30)
    manager.poll_once()  # the repository still holds it: it stays unloaded
    manager.wait_until_idle(30)
    with pytest.raises(Unavailable, match="unloaded through the admin API"):
        manager.acquire(ModelRef("mlp"))
    entry = next(e for e in call(admin, "POST", "/v2/repository/index")[1] if e["name"] == "mlp")
    assert entry["state"] == "UNAVAILABLE" and "admin API" in entry["reason"]
    status, loaded = call(admin, "POST", "/v2/repository/models/mlp/load")
    assert status == 200 and loaded == {"name": "mlp", "loaded": True, "versions": ["1"]}
    handle = manager.acquire(ModelRef("mlp"))
    handle.release()


def test_load_and_unload_errors_name_the_problem(admin: AdminApp) -> None:
    status, answer = call(admin, "POST", "/v2/repository/models/broken/load")
    assert status == 400 and "version 1 failed to load" in answer["error"]
    assert call(admin, "POST", "/v2/repository/models/absent/load")[0] == 404
    assert call(admin, "POST", "/v2/repository/models/absent/unload")[0] == 404
    assert call(admin, "POST", "/v2/repository/models/..%2Fetc/unload")[0] == 400
    assert call(admin, "GET", "/v2/repository/index")[0] == 405
    assert call(admin, "POST", "/v2/repository/models/mlp/explode")[0] == 404


def test_a_new_version_goes_live_on_load_without_waiting_for_the_poll(
    admin: AdminApp, tmp_path: Path
) -> None:
    shutil.copytree(tmp_path / "repo" / "mlp" / "1", tmp_path / "repo" / "mlp" / "2")
    status, loaded = call(admin, "POST", "/v2/repository/models/mlp/load")
    assert status == 200 and "2" in loaded["versions"]


def test_collection_writes_and_reload(admin: AdminApp, tmp_path: Path) -> None:
    assert call(admin, "POST", "/v1/collections", {"name": "films", "dim": 2})[0] == 201
    items = {"items": [{"id": "a", "vector": [1, 0]}, {"id": "b", "vector": [0, 1]}]}
    assert call(admin, "POST", "/v1/collections/films:upsert", items)[1]["count"] == 2
    assert call(admin, "POST", "/v1/collections/films:delete", {"ids": ["a"]})[1]["deleted"] == 1
    assert call(admin, "POST", "/v1/collections/films:search", {"vector": [0, 1], "k": 1})[0] == 200
    assert call(admin, "DELETE", "/v1/collections/films")[0] == 200
    (tmp_path / "admin-tokens").write_text("next-admin-token\n")
    status, answer = call(admin, "POST", "/v1/admin/reload")
    assert status == 200 and answer["admin_tokens"] == {"reloaded": True, "tokens": 1}
    assert answer["models"] == ["broken", "mlp"]
    assert call(admin, "POST", "/v1/admin/reload")[0] == 401
    assert call(admin, "POST", "/v1/admin/reload", token=b"next-admin-token")[0] == 200

"""The /v1/collections REST routes, in-process, on the embedded backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from moorings.search.faiss_store import FaissBackend
from moorings.search.service import Collections
from tests.support.asgi import call


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RestApp]:
    (tmp_path / "repo").mkdir()
    manager = Manager(LocalSource(tmp_path / "repo"), Loader(tmp_path / "repo"))
    dataplane = DataPlane(manager, inference_threads=1)
    collections = Collections(FaissBackend(tmp_path / "data"))
    yield RestApp(dataplane, max_body_bytes=1024 * 1024, collections=collections)
    collections.close()
    dataplane.close()


ITEMS = [
    {"id": "a", "name": "Rogue One: A Star Wars Story", "vector": [1, 0], "metadata": {"year": 2016}},
    {"id": "b", "name": "The Empire Strikes Back", "vector": [0.9, 0.2], "metadata": {"year": 1980}},
    {"id": "c", "name": "Amélie", "vector": [0, 1], "metadata": {"year": 2001}},
]


def test_collection_lifecycle(app: RestApp) -> None:
    created = call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    assert created.status == 201 and created.json()["count"] == 0
    assert call(app, "GET", "/v1/collections").json() == {
        "collections": [{"name": "films", "dim": 2, "metric": "cosine", "index": "auto", "reduce_to": None}]
    }
    up = call(app, "POST", "/v1/collections/films:upsert", json={"items": ITEMS})
    assert up.status == 200 and up.json() == {"upserted": 3, "count": 3}
    hits = call(app, "POST", "/v1/collections/films:search", json={"name": "rogue one", "k": 1}).json()
    assert hits["matched"]["id"] == "a" and [h["id"] for h in hits["hits"]] == ["b"]
    assert hits["hits"][0]["metadata"] == {"year": 1980}
    batch = call(app, "POST", "/v1/collections/films:search", json={"queries": [{"vector": [0, 1]}], "k": 1})
    assert batch.json()["results"][0]["hits"][0]["id"] == "c"
    item = call(app, "GET", "/v1/collections/films/items/c").json()
    assert item["name"] == "Amélie" and item["vector"] == [0.0, 1.0]
    assert call(app, "POST", "/v1/collections/films:delete", json={"ids": ["c"]}).json()["deleted"] == 1
    assert call(app, "GET", "/v1/collections/films").json()["count"] == 2
    assert call(app, "DELETE", "/v1/collections/films").status == 200
    assert call(app, "GET", "/v1/collections/films").status == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/v1/collections", {"name": "films", "dim": 2}, 409, "already exists"),
        ("POST", "/v1/collections", {"name": "x/y", "dim": 2}, 400, "invalid model name"),
        ("GET", "/v1/collections/ghost", None, 404, "no collection named 'ghost'"),
        ("POST", "/v1/collections/ghost:search", {"vector": [1, 0]}, 404, "no collection"),
        ("POST", "/v1/collections/films:search", {"vector": [1, 0, 0]}, 400, "dimension 3"),
        (
            "POST",
            "/v1/collections/films:search",
            {"vector": [1, 0], "filter": {"a": {"x": 1}}},
            400,
            "operator",
        ),
        ("POST", "/v1/collections/films:upsert", {"items": [{"id": 1, "vector": [1]}]}, 400, "dimension 1"),
        ("POST", "/v1/collections/films:frobnicate", {}, 400, "unknown collection verb"),
        ("GET", "/v1/collections/films:search", None, 405, "use POST"),
        ("PUT", "/v1/collections/films", None, 405, "use GET"),
        ("GET", "/v1/collections/films/items/zzz", None, 404, "no item 'zzz'"),
        ("GET", "/v1/collections/..%2F..%2Fetc", None, 400, "invalid model name"),
        ("GET", "/v1/collections/films/other", None, 404, "no such route"),
    ],
)
def test_bad_requests_get_named_4xx(
    app: RestApp, method: str, path: str, body: object, status: int, message: str
) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    answer = call(app, method, path, json=body)
    assert answer.status == status, answer.body
    assert message in answer.json()["error"]


def test_malformed_json_is_a_400(app: RestApp) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    answer = call(app, "POST", "/v1/collections/films:upsert", content=b'{"items": [')
    assert answer.status == 400 and "malformed JSON" in answer.json()["error"]


def test_search_disabled_without_a_service(tmp_path: Path) -> None:
    manager = Manager(LocalSource(tmp_path), Loader(tmp_path))
    app = RestApp(DataPlane(manager, inference_threads=1), max_body_bytes=1024)
    answer = call(app, "GET", "/v1/collections")
    assert answer.status == 404 and "not enabled" in answer.json()["error"]

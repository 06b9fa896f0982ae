"""The /v1/collections REST routes, in-process, on the embedded backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.http1.messages import Request
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from moorings.search.faiss_store import FaissBackend
from moorings.search.npy import write_npy
from moorings.search.service import Collections
from tests.support.asgi import Response, call


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
        ("POST", "/v1/collections", {"name": "x/y", "dim": 2}, 400, "invalid collection name"),
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
        ("GET", "/v1/collections/..%2F..%2Fetc", None, 400, "invalid collection name"),
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


def _npy_search(
    app: RestApp, array: np.ndarray, options: object = None, length: bytes | None = None
) -> Response:
    """A binary :search: the JSON options (if any) followed by the .npy array."""
    prefix = b"" if options is None else orjson.dumps(options)
    headers = [(b"content-type", b"application/x-npy; q=1")]
    if options is not None or length is not None:
        headers.append(
            (b"search-options-length", length if length is not None else str(len(prefix)).encode())
        )
    request = Request("POST", b"/v1/collections/films:search", headers, prefix + write_npy(array))
    status, body, _ = asyncio.run(app.handle(request))
    return Response(status, body)


def test_npy_body_answers_as_the_json_body_does(app: RestApp) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    call(app, "POST", "/v1/collections/films:upsert", json={"items": ITEMS})
    queries = np.array([[0.1, 1], [1, 0.1], [1, 0.5]], np.float32)
    options = {"k": 2, "filter": {"year": {"gte": 1990}}, "include_metadata": False}
    as_json = call(
        app,
        "POST",
        "/v1/collections/films:search",
        json={"queries": [{"vector": q} for q in queries.tolist()], **options},
    ).json()
    binary = _npy_search(app, queries, options)
    assert binary.status == 200 and binary.json() == as_json
    assert [h["id"] for h in as_json["results"][0]["hits"]] == ["c", "a"]
    assert as_json["results"][0]["hits"][0]["metadata"] is None
    single = _npy_search(app, np.array([0.9, 0.25]))  # float64, one query, default options
    assert single.status == 200 and [h["id"] for h in single.json()["hits"]][:2] == ["b", "a"]
    assert single.json()["hits"][0]["metadata"] == {"year": 1980}


@pytest.mark.parametrize(
    ("array", "options", "length", "message"),
    [
        (np.ones((2, 3), np.float32), None, None, "dimension 3"),
        (np.array([[1, np.nan]], np.float32), None, None, "NaN"),
        (np.zeros((1, 2), np.float32), None, None, "all zeros"),
        (np.zeros((0, 2), np.float32), None, None, "1 to 10000 queries"),
        (np.ones(2, np.int32), None, None, "dtype '<i4'"),
        (np.ones((1, 2), np.float32), {"vector": [1, 0]}, None, "cannot go with binary queries"),
        (np.ones((1, 2), np.float32), ["k"], None, "must be a JSON object"),
        (np.ones((1, 2), np.float32), {"k": 0}, None, "'k' must be an integer"),
        (np.ones((1, 2), np.float32), None, b"-3", "Search-Options-Length must be a byte count"),
        (np.ones((1, 2), np.float32), None, b"999999", "Search-Options-Length must be a byte count"),
        (np.ones((1, 2), np.float32), None, b"9" * 4991, "Search-Options-Length must be a byte count"),
        (np.ones((1, 2), np.float32), None, b"\xc2\xb2", "Search-Options-Length must be a byte count"),
        (np.ones((1, 2), np.float32), None, b"\xb2", "Search-Options-Length must be a byte count"),
        (np.ones((1, 2), np.float32), {"k": 1}, b"3", "not valid JSON"),
        (np.ones((1, 2), np.float32), {"k": 1}, b"0", "must start with the bytes"),
    ],
)
def test_bad_npy_bodies_get_named_400s(
    app: RestApp, array: np.ndarray, options: object, length: bytes | None, message: str
) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    call(app, "POST", "/v1/collections/films:upsert", json={"items": ITEMS})
    answer = _npy_search(app, array, options, length)
    assert answer.status == 400, answer.body
    assert message in answer.json()["error"]


def test_the_columns_layout_answers_the_same_hits_as_arrays(app: RestApp) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    call(app, "POST", "/v1/collections/films:upsert", json={"items": ITEMS})
    queries = [[0.1, 1], [1, 0.1]]
    body = {"queries": [{"vector": q} for q in queries], "k": 2}
    as_hits = call(app, "POST", "/v1/collections/films:search", json=body).json()["results"]
    columns = call(app, "POST", "/v1/collections/films:search", json={**body, "layout": "columns"}).json()
    assert columns["results"] == [
        {
            "ids": [h["id"] for h in r["hits"]],
            "scores": [h["score"] for h in r["hits"]],
            "names": [h["name"] for h in r["hits"]],
            "metadata": [h["metadata"] for h in r["hits"]],
        }
        for r in as_hits
    ]
    bare = call(
        app,
        "POST",
        "/v1/collections/films:search",
        json={**body, "layout": "columns", "include_metadata": False},
    ).json()
    assert bare == {"results": [{"ids": r["ids"], "scores": r["scores"]} for r in columns["results"]]}
    binary = _npy_search(
        app, np.array(queries, np.float32), {"k": 2, "layout": "columns", "include_metadata": False}
    )
    assert binary.status == 200 and binary.json() == bare
    by_name = call(
        app, "POST", "/v1/collections/films:search", json={"name": "amélie", "k": 1, "layout": "columns"}
    ).json()
    assert by_name["ids"] == ["b"] and by_name["matched"] == {"id": "c", "name": "Amélie"}
    assert by_name["metadata"] == [{"year": 1980}]


@pytest.mark.parametrize("layout", ["rows", "", "Columns", 2, None, ["columns"], {"hits": 1}])
def test_a_bad_layout_is_a_400_naming_it(app: RestApp, layout: object) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    call(app, "POST", "/v1/collections/films:upsert", json={"items": ITEMS})
    for answer in (
        call(app, "POST", "/v1/collections/films:search", json={"vector": [1, 0], "layout": layout}),
        call(
            app,
            "POST",
            "/v1/collections/films:search",
            json={"queries": [{"vector": [1, 0]}], "layout": layout},
        ),
        _npy_search(app, np.ones((1, 2), np.float32), {"layout": layout}),
    ):
        assert answer.status == 400, answer.body
        assert "'layout' must be one of hits, columns" in answer.json()["error"]


def test_batch_bodies_read_fast_or_not_answer_alike(app: RestApp) -> None:
    """The C reader takes the first body; the id among the queries sends the second the general way."""
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    call(app, "POST", "/v1/collections/films:upsert", json={"items": ITEMS})
    fast = b'{"queries": [{"vector": [0.9, 0.2]}, {"vector": [1, 0]}], "k": 2}'
    general = b'{"k": 2, "queries": [{"vector": [0.9, 0.2]}, {"vector": [1, 0]}]}'
    answers = [call(app, "POST", "/v1/collections/films:search", content=b).json() for b in (fast, general)]
    assert answers[0] == answers[1] and [h["id"] for h in answers[0]["results"][1]["hits"]] == ["a", "b"]
    for body, message in (
        (b'{"queries": [{"vector": [1, 0, 0]}]}', "queries[0] vector has dimension 3"),
        (b'{"queries": [{"vector": [1, 0]}, {"vector": [0, 0]}]}', "queries[1] 0 is all zeros"),
        (b'{"queries": [{"vector": [1e39, 0]}]}', "queries[0] vector 0 holds NaN or Inf"),
        (b'{"queries": [{"vector": [1, 0]}], "k": 0}', "'k' must be an integer"),
        (b'{"queries": [{"vector": [1, 0]}], "top": 3}', "unknown search field(s): top"),
        (b'{"queries": [{"vector": [1, 0]}], "k": 1', "malformed JSON"),
    ):
        answer = call(app, "POST", "/v1/collections/films:search", content=body)
        assert answer.status == 400 and message in answer.json()["error"], answer.body


def test_too_many_queries_read_fast_are_a_400(app: RestApp) -> None:
    call(app, "POST", "/v1/collections", json={"name": "films", "dim": 2})
    body = b'{"queries": [' + b'{"vector": [1, 0]},' * 10_000 + b'{"vector": [0, 1]}]}'
    answer = call(app, "POST", "/v1/collections/films:search", content=body)
    assert answer.status == 400 and "'queries' must be a list of 1 to 10000 queries" in answer.json()["error"]

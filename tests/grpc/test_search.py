"""The gRPC CollectionService over a real grpc.aio server, registered through extra_services."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from moorings.grpc.search import registration
from moorings.protos import search_pb2 as pb
from moorings.protos import search_pb2_grpc as pb_grpc
from moorings.search.faiss_store import FaissBackend
from moorings.search.service import Collections
from tests.support.server import free_port


class AioServer:
    """A grpc.aio server with only the search service, on its own event loop in a thread
    (the whole server registers it through ``build_grpc_server(extra_services=...)``: tests/e2e)."""

    def __init__(self, collections: Collections) -> None:
        self.target = f"127.0.0.1:{free_port()}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> grpc.aio.Server:
            server = grpc.aio.server()
            registration(collections)(server)
            server.add_insecure_port(self.target)
            await server.start()
            return server

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[pb_grpc.CollectionServiceStub]:
    collections = Collections(FaissBackend(tmp_path / "data"))
    server = AioServer(collections)
    channel = grpc.insecure_channel(server.target)
    yield pb_grpc.CollectionServiceStub(channel)
    channel.close()
    server.close()
    collections.close()


def test_create_upsert_search_by_vector_id_and_name(stub: pb_grpc.CollectionServiceStub) -> None:
    info = stub.CreateCollection(pb.CreateCollectionRequest(name="films", dim=2))
    assert (info.name, info.dim, info.metric, info.count) == ("films", 2, "cosine", 0)
    items = [
        pb.Item(id="a", vector=[1, 0], name="Rogue One: A Star Wars Story", metadata_json='{"year": 2016}'),
        pb.Item(id="b", vector=[0.9, 0.3], name="The Empire Strikes Back", metadata_json='{"year": 1980}'),
        pb.Item(id="c", vector=[0, 1]),
    ]
    assert stub.Upsert(pb.UpsertRequest(collection="films", items=items)).count == 3
    answer = stub.Search(
        pb.SearchRequest(
            collection="films",
            k=1,
            queries=[
                pb.Query(vector=pb.Vector(values=[0.1, 1])),
                pb.Query(id="a"),
                pb.Query(name="ROGUE one"),
            ],
        )
    )
    assert [[h.id for h in r.hits] for r in answer.results] == [["c"], ["b"], ["b"]]
    assert answer.results[2].matched_id == "a" and answer.results[2].matched_name.startswith("Rogue")
    assert json.loads(answer.results[1].hits[0].metadata_json) == {"year": 1980}
    assert not answer.results[0].HasField("matched_id")
    filtered = stub.Search(
        pb.SearchRequest(
            collection="films", k=5, queries=[pb.Query(id="c")], filter_json='{"year": {"lt": 2000}}'
        )
    )
    assert [h.id for h in filtered.results[0].hits] == ["b"]
    item = stub.GetItem(pb.GetItemRequest(collection="films", id="c"))
    assert list(item.vector) == [0.0, 1.0] and not item.HasField("name")
    assert stub.Delete(pb.DeleteRequest(collection="films", ids=["c"])).deleted == 1
    assert [c.name for c in stub.ListCollections(pb.ListCollectionsRequest()).collections] == ["films"]
    assert stub.DropCollection(pb.CollectionRef(name="films")).dropped == "films"


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (lambda s: s.DescribeCollection(pb.CollectionRef(name="ghost")), grpc.StatusCode.NOT_FOUND, "ghost"),
        (
            lambda s: s.CreateCollection(pb.CreateCollectionRequest(name="films", dim=2)),
            grpc.StatusCode.ALREADY_EXISTS,
            "already exists",
        ),
        (
            lambda s: s.CreateCollection(pb.CreateCollectionRequest(name="../x", dim=2)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid collection name",
        ),
        (
            lambda s: s.Upsert(
                pb.UpsertRequest(collection="films", items=[pb.Item(id="x", vector=[1, 2, 3])])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "dimension 3",
        ),
        (
            lambda s: s.Upsert(
                pb.UpsertRequest(collection="films", items=[pb.Item(id="x", vector=[1, float("nan")])])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "NaN",
        ),
        (
            lambda s: s.Search(pb.SearchRequest(collection="films", queries=[pb.Query()])),
            grpc.StatusCode.INVALID_ARGUMENT,
            "sets none of",
        ),
        (
            lambda s: s.Search(
                pb.SearchRequest(collection="films", queries=[pb.Query(id="a")], filter_json="{bad")
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "filter_json is not valid JSON",
        ),
        (
            lambda s: s.Search(
                pb.SearchRequest(collection="films", vectors=pb.VectorBatch(dim=2, float32_data=b"\0" * 12))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "multiple of 8 bytes, got 12",
        ),
        (
            lambda s: s.Search(
                pb.SearchRequest(collection="films", vectors=pb.VectorBatch(dim=3, float32_data=b"\0" * 12))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "dimension 3",
        ),
        (
            lambda s: s.Search(
                pb.SearchRequest(
                    collection="films",
                    vectors=pb.VectorBatch(dim=2, float32_data=np.array([1, np.nan], "<f4").tobytes()),
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "NaN",
        ),
        (
            lambda s: s.Search(
                pb.SearchRequest(
                    collection="films",
                    queries=[pb.Query(id="a")],
                    vectors=pb.VectorBatch(dim=2, float32_data=b"\0" * 8),
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not both",
        ),
    ],
)
def test_errors_map_to_grpc_status(
    stub: pb_grpc.CollectionServiceStub, call: object, code: grpc.StatusCode, message: str
) -> None:
    stub.CreateCollection(pb.CreateCollectionRequest(name="films", dim=2))
    with pytest.raises(grpc.RpcError) as info:
        call(stub)  # type: ignore[operator]
    assert info.value.code() == code and message in info.value.details()


def test_vector_batch_answers_as_the_same_queries_do(stub: pb_grpc.CollectionServiceStub) -> None:
    stub.CreateCollection(pb.CreateCollectionRequest(name="pts", dim=3, metric="l2"))
    rng = np.random.default_rng(3)
    points = rng.standard_normal((50, 3)).astype(np.float32)
    items = [
        pb.Item(id=str(i), vector=v.tolist(), metadata_json=f'{{"n": {i}}}') for i, v in enumerate(points)
    ]
    stub.Upsert(pb.UpsertRequest(collection="pts", items=items))
    queries = rng.standard_normal((4, 3)).astype(np.float32)
    as_messages = stub.Search(
        pb.SearchRequest(
            collection="pts", k=5, queries=[pb.Query(vector=pb.Vector(values=q.tolist())) for q in queries]
        )
    )
    as_bytes = stub.Search(
        pb.SearchRequest(
            collection="pts", k=5, vectors=pb.VectorBatch(dim=3, float32_data=queries.astype("<f4").tobytes())
        )
    )
    assert as_bytes == as_messages
    exact = np.argsort(((points[None, :, :] - queries[:, None, :]) ** 2).sum(-1), axis=1)[:, :5]
    assert [[int(h.id) for h in r.hits] for r in as_bytes.results] == exact.tolist()
    assert json.loads(as_bytes.results[0].hits[0].metadata_json) == {"n": int(exact[0, 0])}
    bare = stub.Search(
        pb.SearchRequest(
            collection="pts",
            k=2,
            omit_metadata=True,
            filter_json='{"n": {"lt": 10}}',
            vectors=pb.VectorBatch(dim=3, float32_data=queries[:1].tobytes()),
        )
    )
    assert all(int(h.id) < 10 and h.metadata_json == "" for h in bare.results[0].hits)


def test_the_columns_layout_carries_the_same_hits_as_columns(stub: pb_grpc.CollectionServiceStub) -> None:
    stub.CreateCollection(pb.CreateCollectionRequest(name="pts", dim=3, metric="l2"))
    rng = np.random.default_rng(4)
    points = rng.standard_normal((40, 3)).astype(np.float32)
    items = [
        pb.Item(id=str(i), vector=v.tolist(), metadata_json=f'{{"n": {i}}}', name=f"p{i}" if i % 2 else None)
        for i, v in enumerate(points)
    ]
    stub.Upsert(pb.UpsertRequest(collection="pts", items=items))
    batch = pb.VectorBatch(dim=3, float32_data=rng.standard_normal((3, 3)).astype("<f4").tobytes())
    as_hits = stub.Search(pb.SearchRequest(collection="pts", k=4, vectors=batch))
    columns = stub.Search(pb.SearchRequest(collection="pts", k=4, vectors=batch, layout=pb.COLUMNS))
    assert len(columns.results) == 3
    for hits, cols in zip(as_hits.results, columns.results, strict=True):
        assert not cols.hits and len(hits.hits) == 4
        assert list(cols.ids) == [h.id for h in hits.hits]
        assert list(cols.scores) == [h.score for h in hits.hits]
        assert list(cols.names) == [h.name for h in hits.hits]  # "" for an item without a name
        assert list(cols.metadata_json) == [h.metadata_json for h in hits.hits]
    bare = stub.Search(
        pb.SearchRequest(collection="pts", k=4, vectors=batch, layout=pb.COLUMNS, omit_metadata=True)
    )
    assert [list(r.ids) for r in bare.results] == [list(r.ids) for r in columns.results]
    assert all(not r.names and not r.metadata_json for r in bare.results)
    by_id = stub.Search(
        pb.SearchRequest(collection="pts", k=2, queries=[pb.Query(id="3")], layout=pb.COLUMNS)
    )
    assert by_id.results[0].matched_id == "3" and by_id.results[0].matched_name == "p3"
    assert "3" not in by_id.results[0].ids and len(by_id.results[0].ids) == 2


@pytest.mark.parametrize("layout", [2, 7, -1])
def test_an_unknown_layout_is_invalid_argument_naming_it(
    stub: pb_grpc.CollectionServiceStub, layout: int
) -> None:
    stub.CreateCollection(pb.CreateCollectionRequest(name="films", dim=2))
    request = pb.SearchRequest(collection="films", queries=[pb.Query(vector=pb.Vector(values=[1, 0]))])
    request.layout = layout  # type: ignore[assignment]  # proto3 enums are open: any number travels
    with pytest.raises(grpc.RpcError) as info:
        stub.Search(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"'layout' must be HITS (0) or COLUMNS (1), got {layout}" in info.value.details()

"""The gRPC ``moorings.search.v1.CollectionService`` (src/moorings/protos/search.proto).

Each call becomes the JSON-shaped request of :class:`~moorings.search.service.Collections`, so
REST and gRPC share every check; errors map to gRPC status codes through ``moorings.grpc.status``.
"""

from __future__ import annotations

import functools
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
import orjson

from moorings.errors import InvalidArgument
from moorings.grpc.status import rpc
from moorings.protos import search_pb2 as pb
from moorings.protos import search_pb2_grpc as pb_grpc
from moorings.search.executor import run
from moorings.search.service import Collections
from moorings.search.types import SearchRequest, SearchResult


def _info(data: dict[str, Any]) -> pb.CollectionInfo:
    return pb.CollectionInfo(
        name=data["name"],
        dim=data["dim"],
        metric=data["metric"],
        index=str(data.get("index", "")),
        reduce_to=data.get("reduce_to") or 0,
        count=int(data.get("count", 0)),
        backend=str(data.get("backend", "")),
    )


def _json_object(text: str, where: str) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"{where} is not valid JSON: {exc}") from None


def _dump(value: Any) -> str:
    return "" if value is None else orjson.dumps(value).decode()


class CollectionServicer(pb_grpc.CollectionServiceServicer):
    def __init__(self, collections: Collections) -> None:
        self.collections = collections

    @rpc
    async def ListCollections(
        self, request: pb.ListCollectionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCollectionsResponse:
        specs = await run(self.collections.list_all)
        return pb.ListCollectionsResponse(collections=[_info(s) for s in specs])

    @rpc
    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CollectionInfo:
        body = {
            "name": request.name,
            "dim": request.dim,
            "metric": request.metric or "cosine",
            "index": request.index or "auto",
            "reduce_to": request.reduce_to or None,
        }
        return _info(await run(self.collections.create, body))

    @rpc
    async def DescribeCollection(
        self, request: pb.CollectionRef, context: grpc.aio.ServicerContext
    ) -> pb.CollectionInfo:
        return _info(await run(self.collections.describe, request.name))

    @rpc
    async def DropCollection(
        self, request: pb.CollectionRef, context: grpc.aio.ServicerContext
    ) -> pb.DropCollectionResponse:
        await run(self.collections.drop, request.name)
        return pb.DropCollectionResponse(dropped=request.name)

    @rpc
    async def Upsert(self, request: pb.UpsertRequest, context: grpc.aio.ServicerContext) -> pb.UpsertResponse:
        items = []
        for n, item in enumerate(request.items):
            entry: dict[str, Any] = {"id": item.id, "vector": list(item.vector)}
            if item.HasField("name"):
                entry["name"] = item.name
            if item.metadata_json:
                entry["metadata"] = _json_object(item.metadata_json, f"items[{n}].metadata_json")
            items.append(entry)
        answer = await run(self.collections.upsert, request.collection, {"items": items})
        return pb.UpsertResponse(upserted=answer["upserted"], count=answer["count"])

    @rpc
    async def Delete(self, request: pb.DeleteRequest, context: grpc.aio.ServicerContext) -> pb.DeleteResponse:
        answer = await run(self.collections.delete, request.collection, {"ids": list(request.ids)})
        return pb.DeleteResponse(deleted=answer["deleted"], count=answer["count"])

    @rpc
    async def GetItem(self, request: pb.GetItemRequest, context: grpc.aio.ServicerContext) -> pb.Item:
        item = await run(self.collections.get_item, request.collection, request.id)
        return pb.Item(
            id=item["id"], vector=item["vector"], name=item["name"], metadata_json=_dump(item["metadata"])
        )

    @rpc
    async def Search(self, request: pb.SearchRequest, context: grpc.aio.ServicerContext) -> pb.SearchResponse:
        options: dict[str, Any] = {"k": request.k or 10}
        if request.filter_json:
            options["filter"] = _json_object(request.filter_json, "filter_json")
        if request.HasField("blend"):
            options["blend"] = {"field": request.blend.field, "weight": request.blend.weight}
        if request.omit_metadata:
            options["include_metadata"] = False
        if request.HasField("vectors"):
            if request.queries:
                raise InvalidArgument("set either queries or vectors, not both")
            array = _matrix(request.vectors)
            found = await run(self.collections.find_vectors, request.collection, array, options, "vectors")
        else:
            body = {"queries": [_query(query, n) for n, query in enumerate(request.queries)], **options}
            found = await run(self.collections.find, request.collection, body)
        return _response(*found)


def _query(query: pb.Query, n: int) -> dict[str, Any]:
    kind = query.WhichOneof("query")
    if kind is None:
        raise InvalidArgument(f"queries[{n}] sets none of vector, id or name")
    return {"vector": list(query.vector.values)} if kind == "vector" else {kind: getattr(query, kind)}


def _matrix(batch: pb.VectorBatch) -> npt.NDArray[np.float32]:
    """The rows of a VectorBatch as a read-only (rows, dim) view of its bytes."""
    row_bytes = 4 * batch.dim
    if batch.dim <= 0 or not batch.float32_data or len(batch.float32_data) % row_bytes:
        raise InvalidArgument(
            f"vectors: float32_data must hold one or more rows of dim ({batch.dim}) float32 values, "
            f"a multiple of {max(row_bytes, 4)} bytes, got {len(batch.float32_data)} bytes"
        )
    return np.frombuffer(batch.float32_data, dtype="<f4").reshape(-1, batch.dim)


def _response(request: SearchRequest, results: list[SearchResult]) -> pb.SearchResponse:
    include = request.include_metadata
    Hit = pb.Hit  # the message class, looked up once for thousands of hits
    return pb.SearchResponse(
        results=[
            pb.Result(
                hits=[
                    Hit(id=i, score=s, name=n, metadata_json=_dump(m) if include else "")
                    for i, s, n, m in result.hits
                ],
                matched_id=None if result.matched is None else result.matched["id"],
                matched_name=None if result.matched is None else result.matched["name"],
            )
            for result in results
        ]
    )


def registration(collections: Collections) -> functools.partial[None]:
    """The ``extra_services`` entry of :func:`moorings.grpc.server.build_grpc_server`."""
    return functools.partial(pb_grpc.add_CollectionServiceServicer_to_server, CollectionServicer(collections))

"""The gRPC ``moorings.search.v1.CollectionService`` (src/moorings/protos/search.proto).

Each call builds the typed request of :class:`~moorings.search.service.Collections` straight from
its protobuf message, with the same checks (``moorings.search.validate``) as the JSON codec, and
writes the typed result as protobuf. Blocking work runs on the search threads, one hop per call;
errors map to gRPC status codes through ``moorings.grpc.status``.
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
from moorings.search.blend import checked_blend
from moorings.search.executor import run
from moorings.search.filters import parse_filter
from moorings.search.service import Collections
from moorings.search.types import (
    CollectionInfo,
    CollectionSpec,
    ItemBatch,
    Layout,
    Query,
    SearchRequest,
    SearchResult,
    UpsertOutcome,
)
from moorings.search.validate import (
    MAX_BATCH,
    MAX_QUERIES,
    as_vectors,
    check_id,
    check_k,
    check_metadata,
    check_name,
    id_query,
    name_query,
    normalise,
    query_matrix,
    unique_ids,
    vector_query,
)


def _info(info: CollectionInfo) -> pb.CollectionInfo:
    spec, details = info.spec, info.details
    return pb.CollectionInfo(
        name=spec.name,
        dim=spec.dim,
        metric=spec.metric,
        index=str(details.get("index", spec.index)),
        reduce_to=spec.reduce_to or 0,
        count=info.count or 0,
        backend=str(details.get("backend", "")),
    )


def _json_value(text: str, where: str) -> Any:
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
        infos = await run(self.collections.list_all)
        return pb.ListCollectionsResponse(collections=[_info(i) for i in infos])

    @rpc
    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CollectionInfo:
        spec = CollectionSpec.checked(
            request.name,
            request.dim,
            request.metric or "cosine",
            request.index or "auto",
            request.reduce_to or None,
        )
        return _info(await run(self.collections.create, spec))

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
        outcome = await run(self._upsert, request)
        return pb.UpsertResponse(upserted=outcome.upserted, count=outcome.count)

    def _upsert(self, request: pb.UpsertRequest) -> UpsertOutcome:
        spec = self.collections.spec(request.collection)
        items = request.items
        if not items:
            raise InvalidArgument("'items' is empty")
        if len(items) > MAX_BATCH:
            raise InvalidArgument(f"{len(items)} items in one batch; the limit is {MAX_BATCH}")
        ids, names, metadata, vectors = [], [], [], []
        for n, item in enumerate(items):
            where = f"items[{n}]"
            ids.append(check_id(item.id, where))
            if not item.vector:
                raise InvalidArgument(f"{where}: 'vector' must be a non-empty list of {spec.dim} numbers")
            if len(item.vector) != spec.dim:
                raise InvalidArgument(
                    f"{where}: 'vector' has dimension {len(item.vector)}; the collection's is {spec.dim}"
                )
            vectors.append(np.asarray(item.vector, dtype=np.float32))
            names.append(check_name(item.name if item.HasField("name") else None, where))
            raw = _json_value(item.metadata_json, f"items[{n}].metadata_json")
            metadata.append(check_metadata(raw, where))
        unique_ids(ids)
        array = normalise(
            as_vectors(np.stack(vectors), spec.dim, "items vector"), spec.metric, "items vector"
        )
        batch = ItemBatch(ids=ids, vectors=array, names=names, metadata=metadata)
        return self.collections.upsert(request.collection, batch)

    @rpc
    async def Delete(self, request: pb.DeleteRequest, context: grpc.aio.ServicerContext) -> pb.DeleteResponse:
        outcome = await run(self.collections.delete, request.collection, list(request.ids))
        return pb.DeleteResponse(deleted=outcome.deleted, count=outcome.count)

    @rpc
    async def GetItem(self, request: pb.GetItemRequest, context: grpc.aio.ServicerContext) -> pb.Item:
        item = await run(self.collections.get_item, request.collection, request.id)
        return pb.Item(
            id=item.id, vector=item.vector.tolist(), name=item.name, metadata_json=_dump(item.metadata)
        )

    @rpc
    async def Search(self, request: pb.SearchRequest, context: grpc.aio.ServicerContext) -> pb.SearchResponse:
        return await run(self._search, request)

    def _search(self, request: pb.SearchRequest) -> pb.SearchResponse:
        """On a search thread: the typed request from the message, the search, the response."""
        filter_json = _json_value(request.filter_json, "filter_json")
        spec = self.collections.spec(request.collection)
        queries: list[Query] = []
        vectors = None
        if request.HasField("vectors"):
            if request.queries:
                raise InvalidArgument("set either queries or vectors, not both")
            vectors, _ = query_matrix(_matrix(request.vectors), spec, "vectors")
        else:
            if not 1 <= len(request.queries) <= MAX_QUERIES:
                raise InvalidArgument(f"'queries' must be a list of 1 to {MAX_QUERIES} queries")
            queries = [_query(query, n, spec) for n, query in enumerate(request.queries)]
        blend = None
        if request.HasField("blend"):
            blend = checked_blend(request.blend.field, request.blend.weight)
        typed = SearchRequest(
            queries=queries,
            vectors=vectors,
            k=check_k(request.k or 10),
            filter=parse_filter(filter_json),
            blend=blend,
            include_metadata=not request.omit_metadata,
            batch=True,
            layout=_layout(request.layout),
        )
        results = self.collections.search(request.collection, typed)
        if typed.layout == "columns":
            return _column_response(results, typed.include_metadata)
        return _response(typed, results)


def _query(query: pb.Query, n: int, spec: CollectionSpec) -> Query:
    where = f"queries[{n}]"
    kind = query.WhichOneof("query")
    if kind is None:
        raise InvalidArgument(f"{where} sets none of vector, id or name")
    if kind == "vector":
        return vector_query(list(query.vector.values), spec, where)
    if kind == "id":
        return id_query(query.id, where)
    return name_query(query.name, where)


def _matrix(batch: pb.VectorBatch) -> npt.NDArray[np.float32]:
    """The rows of a VectorBatch as a read-only (rows, dim) view of its bytes."""
    row_bytes = 4 * batch.dim
    if batch.dim <= 0 or not batch.float32_data or len(batch.float32_data) % row_bytes:
        raise InvalidArgument(
            f"vectors: float32_data must hold one or more rows of dim ({batch.dim}) float32 values, "
            f"a multiple of {max(row_bytes, 4)} bytes, got {len(batch.float32_data)} bytes"
        )
    return np.frombuffer(batch.float32_data, dtype="<f4").reshape(-1, batch.dim)


def _layout(value: int) -> Layout:
    if value == pb.HITS:
        return "hits"
    if value == pb.COLUMNS:
        return "columns"
    raise InvalidArgument(f"'layout' must be HITS (0) or COLUMNS (1), got {value}")


def _column_response(results: list[SearchResult], include_metadata: bool) -> pb.SearchResponse:
    """Each result's hits as repeated columns (ids, packed scores; names and metadata_json when
    ``include_metadata``): no message per hit."""
    Result = pb.Result  # looked up once for every result of the batch
    out = []
    for result in results:
        hits = result.hits
        if include_metadata:
            message = Result(
                ids=hits.ids,
                scores=hits.scores,
                names=["" if n is None else n for n in hits.names],
                metadata_json=[_dump(m) for m in hits.metadata],
            )
        else:
            message = Result(ids=hits.ids, scores=hits.scores)
        if result.matched is not None:
            message.matched_id = result.matched.id
            if result.matched.name is not None:
                message.matched_name = result.matched.name
        out.append(message)
    return pb.SearchResponse(results=out)


def _response(request: SearchRequest, results: list[SearchResult]) -> pb.SearchResponse:
    """One ``Hit`` per hit, added in place; a hit with no name and no metadata to send sets only
    its id and score (what a search of bare vectors answers, thousands of times per batch)."""
    include = request.include_metadata
    response = pb.SearchResponse()
    add_result = response.results.add
    for result in results:
        hits = result.hits
        message = add_result()
        add = message.hits.add
        if not include and not any(hits.names):
            for i, s in zip(hits.ids, hits.scores, strict=True):
                add(id=i, score=s)
        else:
            metadata = [_dump(m) for m in hits.metadata] if include else [""] * len(hits)
            for i, s, n, m in zip(hits.ids, hits.scores, hits.names, metadata, strict=True):
                add(id=i, score=s, name=n, metadata_json=m)
        if result.matched is not None:
            message.matched_id = result.matched.id
            if result.matched.name is not None:
                message.matched_name = result.matched.name
    return response


def registration(collections: Collections) -> functools.partial[None]:
    """The ``extra_services`` entry of :func:`moorings.grpc.server.build_grpc_server`."""
    return functools.partial(pb_grpc.add_CollectionServiceServicer_to_server, CollectionServicer(collections))

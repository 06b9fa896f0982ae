"""JSON bodies of embedding search ⇄ the typed requests and results of :mod:`moorings.search.types`.

Readers take a parsed JSON value (and, where vectors are checked, the collection's spec) and
return a checked request, raising :class:`InvalidArgument` that names the bad field. Writers
return JSON-shaped values; a batch answer holds thousands of hits, each written as one dict
literal from the result's columns (no object per hit in between) and handed to orjson once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from moorings.errors import InvalidArgument
from moorings.search import blend as blending
from moorings.search.filters import parse_filter
from moorings.search.types import (
    CollectionInfo,
    CollectionSpec,
    DeleteOutcome,
    Hits,
    Item,
    ItemBatch,
    Query,
    SearchRequest,
    SearchResult,
    UpsertOutcome,
    Vectors,
)
from moorings.search.validate import (
    MAX_BATCH,
    MAX_QUERIES,
    as_vectors,
    check_id,
    check_k,
    check_layout,
    check_metadata,
    check_name,
    id_query,
    name_query,
    normalise,
    query_matrix,
    unique_ids,
    vector_query,
)

OPTION_FIELDS = {"k", "filter", "blend", "include_metadata", "layout"}
SEARCH_FIELDS = {"vector", "id", "name", "queries", *OPTION_FIELDS}
QUERY_FIELDS = {"vector", "id", "name"}


# ---- collections ---------------------------------------------------------------------------------
def spec_from_json(body: Any) -> CollectionSpec:
    """``{"name", "dim", "metric"?, "index"?, "reduce_to"?}``."""
    return CollectionSpec.from_json(body)


def info_json(info: CollectionInfo) -> dict[str, Any]:
    """The spec's fields, then (for one collection) ``count`` and the backend's facts, which may
    say more precisely what the spec left open (``index``: the kind in use for ``auto``)."""
    out = info.spec.to_json()
    if info.count is not None:
        out["count"] = info.count
    out.update(info.details)
    return out


def list_json(infos: list[CollectionInfo]) -> dict[str, Any]:
    return {"collections": [info_json(info) for info in infos]}


def dropped_json(name: str) -> dict[str, Any]:
    return {"dropped": name}


# ---- items ---------------------------------------------------------------------------------------
def batch_from_json(body: Any, spec: CollectionSpec) -> ItemBatch:
    """``{"items": [{"id", "vector", "name"?, "metadata"?}, ...]}`` → a batch checked for ``spec``."""
    dim = spec.dim
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise InvalidArgument("the body must be a JSON object with 'items': a list of items")
    unknown = set(body) - {"items"}
    if unknown:
        raise InvalidArgument(f"unknown field(s) in the body: {', '.join(sorted(unknown))}")
    raw = body["items"]
    if not raw:
        raise InvalidArgument("'items' is empty")
    if len(raw) > MAX_BATCH:
        raise InvalidArgument(f"{len(raw)} items in one batch; the limit is {MAX_BATCH}")
    ids: list[str] = []
    vectors: list[Any] = []
    names: list[str | None] = []
    metadata: list[dict[str, Any] | None] = []
    for n, item in enumerate(raw):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            raise InvalidArgument(f"{where} must be an object with 'id' and 'vector'")
        extra = set(item) - {"id", "vector", "name", "metadata"}
        if extra:
            raise InvalidArgument(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        if "id" not in item or "vector" not in item:
            raise InvalidArgument(f"{where} needs 'id' and 'vector'")
        ids.append(check_id(item["id"], where))
        vector = item["vector"]
        if not isinstance(vector, list) or not vector:
            raise InvalidArgument(f"{where}: 'vector' must be a non-empty list of {dim} numbers")
        if len(vector) != dim:
            raise InvalidArgument(f"{where}: 'vector' has dimension {len(vector)}; the collection's is {dim}")
        vectors.append(vector)
        names.append(check_name(item.get("name"), where))
        metadata.append(check_metadata(item.get("metadata"), where))
    unique_ids(ids)
    array = normalise(as_vectors(vectors, dim, "items vector"), spec.metric, "items vector")
    return ItemBatch(ids=ids, vectors=array, names=names, metadata=metadata)


def ids_from_json(body: Any) -> list[Any]:
    """``{"ids": [id, ...]}`` → the ids as sent (the service checks each)."""
    if not isinstance(body, dict) or set(body) != {"ids"} or not isinstance(body["ids"], list):
        raise InvalidArgument('the body must be {"ids": [id, ...]}')
    ids: list[Any] = body["ids"]
    return ids


def upserted_json(outcome: UpsertOutcome) -> dict[str, Any]:
    return {"upserted": outcome.upserted, "count": outcome.count}


def deleted_json(outcome: DeleteOutcome) -> dict[str, Any]:
    return {"deleted": outcome.deleted, "count": outcome.count}


def item_json(item: Item) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "vector": item.vector.tolist(), "metadata": item.metadata}


# ---- search requests -----------------------------------------------------------------------------
def search_from_json(body: Any, spec: CollectionSpec) -> SearchRequest:
    """``{"vector"|"id"|"name"|"queries", "k"?, "filter"?, "blend"?, "include_metadata"?, "layout"?}``."""
    if not isinstance(body, dict):
        raise InvalidArgument("the search body must be a JSON object")
    unknown = set(body) - SEARCH_FIELDS
    if unknown:
        raise InvalidArgument(f"unknown search field(s): {', '.join(sorted(unknown))}")
    given = [f for f in ("vector", "id", "name", "queries") if f in body]
    if len(given) != 1:
        raise InvalidArgument("a search needs exactly one of 'vector', 'id', 'name' or 'queries'")
    if given[0] == "queries":
        raw = body["queries"]
        if not isinstance(raw, list | np.ndarray) or not 1 <= len(raw) <= MAX_QUERIES:
            raise InvalidArgument(f"'queries' must be a list of 1 to {MAX_QUERIES} queries")
        if isinstance(raw, np.ndarray):  # read by json_queries: every query a vector, one length
            matrix = _checked_matrix(spec, raw)
            if matrix is not None:
                return _request(body, [], matrix, batch=True)
            raw = [{"vector": row} for row in raw.tolist()]  # the general path words the error
        matrix = _vector_queries(spec, raw)
        if matrix is not None:
            return _request(body, [], matrix, batch=True)
        queries = [_query(spec, q, f"queries[{n}]") for n, q in enumerate(raw)]
        return _request(body, queries, None, batch=True)
    single = _query(spec, {given[0]: body[given[0]]}, "query")
    return _request(body, [single], None, batch=False)


def search_from_array(array: Any, options: Any, spec: CollectionSpec, what: str) -> SearchRequest:
    """A search whose queries come as an array (a binary body): shape (dim,) answers as a single
    search, (n, dim) as a batch; ``options`` (a JSON object or None) may hold k, filter, blend,
    include_metadata and layout."""
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise InvalidArgument("the search options must be a JSON object")
    unknown = set(options) - OPTION_FIELDS
    if unknown:
        raise InvalidArgument(
            f"field(s) {', '.join(sorted(unknown))} cannot go with binary queries; the options "
            f"may hold {', '.join(sorted(OPTION_FIELDS))}"
        )
    matrix, batch = query_matrix(array, spec, what)
    return _request(options, [], matrix, batch)


def _request(body: dict[str, Any], queries: list[Query], vectors: Any, batch: bool) -> SearchRequest:
    include = body.get("include_metadata", True)
    if not isinstance(include, bool):
        raise InvalidArgument("'include_metadata' must be true or false")
    return SearchRequest(
        queries=queries,
        vectors=vectors,
        k=check_k(body.get("k", 10)),
        filter=parse_filter(body.get("filter")),
        blend=blending.parse_blend(body.get("blend")),
        include_metadata=include,
        batch=batch,
        layout=check_layout(body.get("layout", "hits")),
    )


def _vector_queries(spec: CollectionSpec, raw: list[Any]) -> Vectors | None:
    """All queries as one checked matrix when every one is a valid vector of the right length;
    None otherwise (then the per-query path runs, and names the first bad one)."""
    dim = spec.dim
    if not all(
        isinstance(q, dict) and len(q) == 1 and isinstance(v := q.get("vector"), list) and len(v) == dim
        for q in raw
    ):
        return None
    try:
        inferred = np.array([q["vector"] for q in raw])  # strings stay strings: no silent parsing
    except (ValueError, TypeError):
        return None
    return _checked_matrix(spec, inferred)


def _checked_matrix(spec: CollectionSpec, inferred: Any) -> Vectors | None:
    """``inferred`` (a numeric array) as normalised float32 queries when it is a (n, dim) matrix of
    finite (and, for cosine, non-zero) rows; None otherwise."""
    if inferred.ndim != 2 or inferred.dtype.kind not in "iuf" or inferred.shape[1] != spec.dim:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        matrix = inferred.astype(np.float32)
    if not np.isfinite(matrix).all():
        return None
    if spec.metric == "cosine" and not (np.linalg.norm(matrix, axis=1) > 0).all():
        return None
    return normalise(matrix, spec.metric)


def _query(spec: CollectionSpec, raw: Any, where: str) -> Query:
    if not isinstance(raw, dict) or len(raw) != 1 or not set(raw) <= QUERY_FIELDS:
        raise InvalidArgument(f"{where} must be an object with one of 'vector', 'id' or 'name'")
    ((kind, value),) = raw.items()
    if kind == "vector":
        return vector_query(value, spec, where)
    if kind == "id":
        return id_query(value, where)
    return name_query(value, where)


# ---- search answers ------------------------------------------------------------------------------
def hit_dicts(hits: Hits, include_metadata: bool = True) -> list[dict[str, Any]]:
    """The hits as JSON objects ``{"id", "score", "name", "metadata"}``, from the columns."""
    if include_metadata:
        return [
            {"id": i, "score": s, "name": n, "metadata": m}
            for i, s, n, m in zip(hits.ids, hits.scores, hits.names, hits.metadata, strict=True)
        ]
    return [
        {"id": i, "score": s, "name": n, "metadata": None}
        for i, s, n in zip(hits.ids, hits.scores, hits.names, strict=True)
    ]


def column_answers(results: list[SearchResult], include_metadata: bool) -> list[dict[str, Any]]:
    """Each result as ``{"ids": [...], "scores": [...]}``, with ``"names"`` and ``"metadata"`` when
    ``include_metadata``: the columns as they are, no object per hit."""
    if include_metadata:
        return [
            {"ids": h.ids, "scores": h.scores, "names": h.names, "metadata": h.metadata}
            for h in [r.hits for r in results]
        ]
    return [{"ids": h.ids, "scores": h.scores} for h in [r.hits for r in results]]


def answer_json(request: SearchRequest, results: list[SearchResult]) -> dict[str, Any]:
    """The answer as a JSON value: ``{"results": [...]}`` for a batch, the one result otherwise.

    One comprehension over every hit of every result (a batch holds thousands); in the
    ``columns`` layout one object per result holding the hits' columns as lists."""
    answers: list[dict[str, Any]]
    if request.layout == "columns":
        answers = column_answers(results, request.include_metadata)
    elif request.include_metadata:
        answers = [
            {
                "hits": [
                    {"id": i, "score": s, "name": n, "metadata": m}
                    for i, s, n, m in zip(h.ids, h.scores, h.names, h.metadata, strict=True)
                ]
            }
            for h in [r.hits for r in results]
        ]
    else:
        answers = [
            {
                "hits": [
                    {"id": i, "score": s, "name": n, "metadata": None}
                    for i, s, n in zip(h.ids, h.scores, h.names, strict=True)
                ]
            }
            for h in [r.hits for r in results]
        ]
    for answer, result in zip(answers, results, strict=True):
        if result.matched is not None:
            answer["matched"] = {"id": result.matched.id, "name": result.matched.name}
    return {"results": answers} if request.batch else answers[0]


def search_answer(request: SearchRequest, results: list[SearchResult]) -> bytes:
    """:func:`answer_json` written out (on the search thread, so the event loop only sends it)."""
    return orjson.dumps(answer_json(request, results))

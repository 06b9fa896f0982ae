"""Collections, items, queries and hits: the plain objects every layer of search shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from moorings.errors import InvalidArgument
from moorings.search.names import check_collection_name

Metric = Literal["cosine", "ip", "l2"]
IndexKind = Literal["auto", "flat", "hnsw", "ivf"]
METRICS: tuple[str, ...] = ("cosine", "ip", "l2")
INDEX_KINDS: tuple[str, ...] = ("auto", "flat", "hnsw", "ivf")
MAX_DIM = 4000
MAX_K = 1000
MAX_ID_CHARS = 256
MAX_NAME_CHARS = 1024

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection is: its name (same rule as model names), dimension, metric and index."""

    name: str
    dim: int
    metric: Metric = "cosine"
    index: IndexKind = "auto"
    #: index on a truncated-SVD projection to this many dimensions, re-ranking exactly on full vectors
    reduce_to: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "metric": self.metric,
            "index": self.index,
            "reduce_to": self.reduce_to,
        }

    @staticmethod
    def from_json(data: Any) -> CollectionSpec:
        """Validate a client's (or a stored) description; raise InvalidArgument naming the bad field."""
        if not isinstance(data, dict):
            raise InvalidArgument("a collection is described by a JSON object with 'name' and 'dim'")
        unknown = set(data) - {"name", "dim", "metric", "index", "reduce_to"}
        if unknown:
            raise InvalidArgument(f"unknown collection field(s): {', '.join(sorted(map(str, unknown)))}")
        name = data.get("name")
        if not isinstance(name, str):
            raise InvalidArgument("collection 'name' must be a string")
        check_collection_name(name)
        dim = data.get("dim")
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
            raise InvalidArgument(f"collection 'dim' must be an integer from 1 to {MAX_DIM}, got {dim!r}")
        metric = data.get("metric", "cosine")
        if metric not in METRICS:
            raise InvalidArgument(f"collection 'metric' must be one of {', '.join(METRICS)}, got {metric!r}")
        index = data.get("index", "auto")
        if index not in INDEX_KINDS:
            raise InvalidArgument(
                f"collection 'index' must be one of {', '.join(INDEX_KINDS)}, got {index!r}"
            )
        reduce_to = data.get("reduce_to")
        if reduce_to is not None and (
            isinstance(reduce_to, bool) or not isinstance(reduce_to, int) or not 1 <= reduce_to < dim
        ):
            raise InvalidArgument(
                f"'reduce_to' must be an integer from 1 to dim - 1 ({dim - 1}), got {reduce_to!r}"
            )
        return CollectionSpec(name=name, dim=dim, metric=metric, index=index, reduce_to=reduce_to)


@dataclass
class ItemBatch:
    """Items to upsert, already validated: ids unique within the batch, vectors finite float32."""

    ids: list[str]
    vectors: Vectors
    names: list[str | None]
    metadata: list[dict[str, Any] | None]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Item:
    id: str
    vector: Vectors
    name: str | None = None
    metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "vector": self.vector.tolist(), "metadata": self.metadata}


class Hit(NamedTuple):
    """One neighbour. ``score``: higher is nearer (inner product; for l2 the negated squared distance).

    A named tuple, not a dataclass: a batch search builds thousands of them per request.
    """

    id: str
    score: float
    name: str | None = None
    metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "name": self.name, "metadata": self.metadata}


def hits_json(hits: list[Hit], include_metadata: bool = True) -> list[dict[str, Any]]:
    """The hits as JSON objects (one comprehension, no method call per hit: batches hold thousands)."""
    if include_metadata:
        return [{"id": i, "score": s, "name": n, "metadata": m} for i, s, n, m in hits]
    return [{"id": i, "score": s, "name": n, "metadata": None} for i, s, n, _ in hits]


@dataclass(frozen=True)
class Blend:
    """Final score = (1 - weight) * similarity + weight * metadata[field] (missing field counts as 0)."""

    field: str
    weight: float


@dataclass(frozen=True)
class Query:
    """One search: exactly one of vector / item_id / name."""

    vector: Vectors | None = None
    item_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class SearchRequest:
    queries: list[Query]
    #: when every query is a vector: all of them as one (n, dim) matrix, and ``queries`` is empty
    vectors: Vectors | None = None
    k: int = 10
    filter: Any = None  # a compiled moorings.search.filters.Filter, or None
    blend: Blend | None = None
    include_metadata: bool = True
    batch: bool = False  # answer as a list of result lists (``queries`` in the body)


@dataclass
class SearchResult:
    hits: list[Hit]
    #: what the query resolved to when it was by id or name (the matched item's id and name)
    matched: dict[str, Any] | None = field(default=None)

    def to_json(self, include_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"hits": hits_json(self.hits, include_metadata)}
        if self.matched is not None:
            out["matched"] = self.matched
        return out

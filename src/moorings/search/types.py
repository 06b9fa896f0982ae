"""Collections, items, queries and hits: the plain objects every layer of search shares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from moorings.errors import InvalidArgument
from moorings.search.names import check_collection_name

Metric = Literal["cosine", "ip", "l2"]
IndexKind = Literal["auto", "flat", "hnsw", "ivf"]
#: how a search answer is written: an object per hit, or per query one array per field
Layout = Literal["hits", "columns"]
LAYOUTS: tuple[str, ...] = ("hits", "columns")
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
        return CollectionSpec.checked(
            data.get("name"),
            data.get("dim"),
            data.get("metric", "cosine"),
            data.get("index", "auto"),
            data.get("reduce_to"),
        )

    @staticmethod
    def checked(
        name: Any, dim: Any, metric: Any = "cosine", index: Any = "auto", reduce_to: Any = None
    ) -> CollectionSpec:
        """A spec from values a client gave (any protocol); raise InvalidArgument naming the bad one."""
        if not isinstance(name, str):
            raise InvalidArgument("collection 'name' must be a string")
        check_collection_name(name)
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
            raise InvalidArgument(f"collection 'dim' must be an integer from 1 to {MAX_DIM}, got {dim!r}")
        if metric not in METRICS:
            raise InvalidArgument(f"collection 'metric' must be one of {', '.join(METRICS)}, got {metric!r}")
        if index not in INDEX_KINDS:
            raise InvalidArgument(
                f"collection 'index' must be one of {', '.join(INDEX_KINDS)}, got {index!r}"
            )
        if reduce_to is not None and (
            isinstance(reduce_to, bool) or not isinstance(reduce_to, int) or not 1 <= reduce_to < dim
        ):
            raise InvalidArgument(
                f"'reduce_to' must be an integer from 1 to dim - 1 ({dim - 1}), got {reduce_to!r}"
            )
        return CollectionSpec(name=name, dim=dim, metric=metric, index=index, reduce_to=reduce_to)


@dataclass(frozen=True)
class CollectionInfo:
    """What create, describe and list answer: the spec, and for one collection its size and the
    backend's own facts (``details``: backend, the index kind in use, rows, ...)."""

    spec: CollectionSpec
    #: None in a listing (counting every collection would open each one)
    count: int | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class UpsertOutcome:
    upserted: int
    count: int


@dataclass(frozen=True)
class DeleteOutcome:
    deleted: int
    count: int


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


class Hit(NamedTuple):
    """One neighbour. ``score``: higher is nearer (inner product; for l2 the negated squared distance)."""

    id: str
    score: float
    name: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(slots=True)
class Hits:
    """One query's neighbours, nearest first, as four parallel columns.

    Columns, not a list of :class:`Hit`: a batch answer holds thousands of hits, and the stores
    gather each column at once while the writers read them column by column. Indexing and
    iteration give :class:`Hit` tuples.
    """

    ids: list[str]
    scores: list[float]
    names: list[str | None]
    metadata: list[dict[str, Any] | None]

    @staticmethod
    def of(hits: Iterable[Hit]) -> Hits:
        rows = list(hits)
        if not rows:
            return Hits([], [], [], [])
        ids, scores, names, metadata = (list(column) for column in zip(*rows, strict=True))
        return Hits(ids, scores, names, metadata)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Hit]:
        return map(Hit, self.ids, self.scores, self.names, self.metadata)

    def __getitem__(self, n: int) -> Hit:
        return Hit(self.ids[n], self.scores[n], self.names[n], self.metadata[n])

    def head(self, k: int) -> Hits:
        if len(self.ids) <= k:
            return self
        return Hits(self.ids[:k], self.scores[:k], self.names[:k], self.metadata[:k])

    def without(self, item_id: str) -> Hits:
        """These hits less the item ``item_id`` (a query by item is not its own neighbour)."""
        if item_id not in self.ids:
            return self
        return Hits.of(h for h in self if h.id != item_id)


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
    layout: Layout = "hits"


class Matched(NamedTuple):
    """The item a query by id or by name resolved to."""

    id: str
    name: str | None


@dataclass
class SearchResult:
    hits: Hits
    #: what the query resolved to when it was by id or name
    matched: Matched | None = field(default=None)

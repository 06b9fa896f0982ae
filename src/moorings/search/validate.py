"""Checks on everything a client sends: vectors, ids, names, metadata, queries.

The checks take values, whatever protocol carried them (the JSON codec, the gRPC service and the
Python API all call them). Every check raises :class:`InvalidArgument` whose message names the
field and the item; nothing invalid reaches a store.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from moorings.errors import InvalidArgument
from moorings.search.types import (
    LAYOUTS,
    MAX_ID_CHARS,
    MAX_K,
    MAX_NAME_CHARS,
    CollectionSpec,
    ItemBatch,
    Layout,
    Metric,
    Query,
    Vectors,
)

MAX_BATCH = 100_000
MAX_QUERIES = 10_000


def as_vectors(values: Any, dim: int, what: str = "vector") -> Vectors:
    """A (n, dim) float32 array from nested lists or an array; rejects ragged, empty, NaN, Inf."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        if not isinstance(values, list) or not values:
            raise InvalidArgument(f"{what} must be a non-empty list of numbers")
        try:
            array = np.asarray(values)
        except ValueError:
            raise InvalidArgument(f"{what}: the vectors do not all have the same length") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidArgument(f"{what}: expected a list of numbers or a list of such lists")
    if array.shape[1] == 0 or array.shape[0] == 0:
        raise InvalidArgument(f"{what} is empty: a vector has {dim} numbers")
    if array.dtype == object or array.dtype.kind not in "iuf":
        raise InvalidArgument(f"{what} must hold only numbers")
    if array.shape[1] != dim:
        raise InvalidArgument(f"{what} has dimension {array.shape[1]}; this collection's dimension is {dim}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise InvalidArgument(f"{what} {row} holds NaN or Inf (or a number too large for float32)")
    return out


def normalise(vectors: Vectors, metric: Metric, what: str = "vector") -> Vectors:
    """Unit length for cosine (a zero vector has no direction: rejected); unchanged otherwise."""
    if metric != "cosine":
        return vectors
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    zero = norms[:, 0] == 0
    if zero.any():
        raise InvalidArgument(f"{what} {int(np.flatnonzero(zero)[0])} is all zeros: cosine needs a direction")
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def check_id(value: Any, where: str) -> str:
    """Item ids are strings of 1-256 printable characters; a JSON integer is taken as its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS or not value.isprintable():
        raise InvalidArgument(
            f"{where}: an id is a string of 1-{MAX_ID_CHARS} printable characters or an integer"
        )
    return value


def check_name(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_CHARS or "\x00" in value:
        raise InvalidArgument(f"{where}: a name is a string of 1-{MAX_NAME_CHARS} characters")
    return value


def check_metadata(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: metadata must be a JSON object")
    _check_json_numbers(value, where)
    return value


def _check_json_numbers(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"{where}: metadata holds NaN or Infinity")
    if isinstance(value, str) and "\x00" in value:
        raise InvalidArgument(f"{where}: metadata strings may not hold NUL characters")
    if isinstance(value, dict):
        for key, inner in value.items():
            if "\x00" in key:
                raise InvalidArgument(f"{where}: metadata keys may not hold NUL characters")
            _check_json_numbers(inner, where)
    elif isinstance(value, list):
        for inner in value:
            _check_json_numbers(inner, where)


def check_k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise InvalidArgument(f"'k' must be an integer from 1 to {MAX_K}, got {value!r}")
    return value


def check_layout(value: Any) -> Layout:
    """A search answer's layout: ``hits`` (an object per hit) or ``columns`` (arrays per query)."""
    if not isinstance(value, str) or value not in LAYOUTS:
        plain = isinstance(value, str | int | float | bool | None)
        shown = repr(value)[:60] if plain else "an array" if isinstance(value, list) else "an object"
        raise InvalidArgument(f"'layout' must be one of {', '.join(LAYOUTS)}, got {shown}")
    return value  # type: ignore[return-value]


def unique_ids(ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InvalidArgument(f"id {dup!r} appears more than once in the batch")


def batch_from_arrays(
    ids: list[Any],
    vectors: Any,
    dim: int,
    metric: Metric,
    names: list[str | None] | None = None,
    metadata: list[dict[str, Any] | None] | None = None,
) -> ItemBatch:
    """The same checks for callers holding arrays (CLI ingest, Python API)."""
    checked = [check_id(i, f"id {n}") for n, i in enumerate(ids)]
    unique_ids(checked)
    array = normalise(as_vectors(vectors, dim, "vector"), metric)
    if len(array) != len(checked):
        raise InvalidArgument(f"{len(checked)} ids but {len(array)} vectors")
    names_out: list[str | None] = [None] * len(checked)
    if names is not None:
        names_out = [check_name(v, f"name {n}") for n, v in enumerate(names)]
    meta_out: list[dict[str, Any] | None] = [None] * len(checked)
    if metadata is not None:
        meta_out = [check_metadata(v, f"metadata {n}") for n, v in enumerate(metadata)]
    if len(names_out) != len(checked) or len(meta_out) != len(checked):
        raise InvalidArgument("names and metadata must have one entry per id")
    return ItemBatch(ids=checked, vectors=array, names=names_out, metadata=meta_out)


def vector_query(values: Any, spec: CollectionSpec, where: str) -> Query:
    """A query by one vector (a list of numbers), checked and normalised for the collection."""
    if not isinstance(values, list) or not values:
        raise InvalidArgument(f"{where}: 'vector' must be a non-empty list of {spec.dim} numbers")
    if any(isinstance(v, list) for v in values):
        raise InvalidArgument(f"{where}: 'vector' is one vector; send several in 'queries'")
    vector = normalise(as_vectors(values, spec.dim, f"{where} vector"), spec.metric, where)
    return Query(vector=vector[0])


def id_query(value: Any, where: str) -> Query:
    return Query(item_id=check_id(value, f"{where} id"))


def name_query(value: Any, where: str) -> Query:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise InvalidArgument(
            f"{where}: 'name' must be a non-empty string of at most {MAX_NAME_CHARS} characters"
        )
    return Query(name=value)


def query_matrix(array: Any, spec: CollectionSpec, what: str) -> tuple[Vectors, bool]:
    """Queries sent as one array: (dim,) is a single search, (n, dim) a batch. Returns the checked,
    normalised (n, dim) matrix and whether it answers as a batch."""
    batch = array.ndim == 2
    if batch and not 1 <= len(array) <= MAX_QUERIES:
        raise InvalidArgument(f"{what} must hold 1 to {MAX_QUERIES} queries, got {len(array)}")
    return normalise(as_vectors(array, spec.dim, what), spec.metric, f"{what} row"), batch


def check_ids(ids: list[Any]) -> list[str]:
    """Ids to delete: 1 to MAX_BATCH of them, each checked, duplicates dropped (first kept)."""
    if not ids or len(ids) > MAX_BATCH:
        raise InvalidArgument(f"'ids' must hold 1 to {MAX_BATCH} ids")
    return list(dict.fromkeys(check_id(v, f"ids[{n}]") for n, v in enumerate(ids)))

"""Read embeddings from files and write them to a collection in batches, with a progress bar.

Vectors: ``.npy`` (a 2-D array), ``.csv`` (numeric columns; a header row is skipped), ``.parquet``
(a list column named ``vector``/``embedding``, else every numeric column), or ``.keras`` (the
weight matrix of an ``Embedding`` layer: row i is the vector of item i). Beside them: ids, names
(one per line) and metadata (JSON Lines: one object or ``null`` per line). Items default to ids
``0..n-1`` — the row number, which for an Embedding layer is the item's index.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from moorings.errors import InvalidArgument
from moorings.search.types import Vectors

VECTOR_COLUMNS = ("vector", "embedding", "embeddings")


def read_vectors(path: Path, layer: str | None = None) -> Vectors:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InvalidArgument(f"no such file: {path}")
    if suffix == ".npy":
        array = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        array = _read_csv(path)
    elif suffix == ".parquet":
        array = _read_parquet(path)
    elif suffix == ".keras":
        array = keras_embedding(path, layer)
    else:
        raise InvalidArgument(f"cannot read vectors from {path.name}: use .npy, .csv, .parquet or .keras")
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidArgument(
            f"{path.name}: expected a non-empty 2-D array of vectors, got shape {array.shape}"
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def _read_csv(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        first = f.readline()
    try:
        [float(x) for x in first.strip().split(",")]
        skip = 0
    except ValueError:
        skip = 1
    try:
        return np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InvalidArgument(f"{path.name}: every column must be a number ({exc})") from None


def _read_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for name in VECTOR_COLUMNS:
        if name in table.column_names:
            return np.asarray(table.column(name).to_pylist(), dtype=np.float64)
    numeric = [
        table.column(n).to_numpy()
        for n, t in zip(table.column_names, table.schema.types, strict=True)
        if str(t).startswith(("float", "double", "int", "uint", "halffloat"))
    ]
    if not numeric:
        raise InvalidArgument(
            f"{path.name}: no vector column ({', '.join(VECTOR_COLUMNS)}) and no numeric columns"
        )
    return np.stack(numeric, axis=1)


def keras_embedding(path: Path, layer: str | None = None) -> Vectors:
    """The weight matrix of an Embedding layer of a ``.keras`` model (loaded in safe mode)."""
    try:
        import keras
    except ImportError:
        raise InvalidArgument(
            "reading a .keras file needs Keras (pip install 'moorings[tensorflow]')"
        ) from None
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    layers = [lyr for lyr in _walk(model) if isinstance(lyr, keras.layers.Embedding)]
    if layer is not None:
        layers = [lyr for lyr in layers if lyr.name == layer]
        if not layers:
            raise InvalidArgument(f"{path.name} has no Embedding layer named {layer!r}")
    if len(layers) != 1:
        names = ", ".join(lyr.name for lyr in _walk(model) if isinstance(lyr, keras.layers.Embedding))
        raise InvalidArgument(f"{path.name}: pick an Embedding layer with --layer (found: {names or 'none'})")
    return np.asarray(layers[0].get_weights()[0], dtype=np.float32)


def _walk(model: Any) -> Iterator[Any]:
    for lyr in getattr(model, "layers", []):
        yield lyr
        yield from _walk(lyr)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def read_metadata(path: Path) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = []
    for number, line in enumerate(read_lines(path), start=1):
        try:
            value = json.loads(line) if line.strip() else None
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"{path.name} line {number}: not JSON ({exc.msg})") from None
        if value is not None and not isinstance(value, dict):
            raise InvalidArgument(f"{path.name} line {number}: metadata must be a JSON object or null")
        out.append(value)
    return out


@dataclass
class Source:
    """Everything to ingest, lined up: one id, vector, name and metadata per item."""

    ids: list[str]
    vectors: Vectors
    names: list[str | None] | None = None
    metadata: list[dict[str, Any] | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.vectors)
        for what, values in (("ids", self.ids), ("names", self.names), ("metadata", self.metadata)):
            if values is not None and len(values) != n:
                raise InvalidArgument(f"{n} vectors but {len(values)} {what}")


def load_source(
    vectors: Path,
    ids: Path | None = None,
    names: Path | None = None,
    metadata: Path | None = None,
    layer: str | None = None,
) -> Source:
    array = read_vectors(vectors, layer)
    id_list = read_lines(ids) if ids else [str(i) for i in range(len(array))]
    name_list: list[str | None] | None = None
    if names:
        name_list = [line if line.strip() else None for line in read_lines(names)]
    return Source(id_list, array, name_list, read_metadata(metadata) if metadata else None)


class Progress:
    """A one-line progress bar on a terminal (plain periodic lines otherwise)."""

    def __init__(self, total: int, label: str, out: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.total, self.label, self.out, self.enabled = total, label, out, enabled
        self.done = 0
        self.start = time.monotonic()
        self._last = 0.0

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        interval = 0.2 if self.out.isatty() else 5.0  # a log file gets a line every few seconds
        if not self.enabled or (now - self._last < interval and self.done < self.total):
            return
        self._last = now
        rate = self.done / max(now - self.start, 1e-9)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        line = (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} ({rate:,.0f}/s)"
        )
        if self.out.isatty():
            self.out.write("\r" + line)
        else:
            self.out.write(line + "\n")
        if self.done >= self.total and self.out.isatty():
            self.out.write("\n")
        self.out.flush()


def batches(source: Source, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, len(source.vectors), size):
        yield start, min(start + size, len(source.vectors))


def ingest(
    source: Source,
    write: Callable[[list[str], Vectors, list[str | None] | None, list[dict[str, Any] | None] | None], None],
    batch_size: int = 1000,
    progress: bool = True,
    label: str = "ingest",
) -> int:
    """Call ``write(ids, vectors, names, metadata)`` once per batch; each batch commits on its own, so an
    interrupted ingest leaves whole batches and re-running it converges to the same content."""
    bar = Progress(len(source.vectors), label, enabled=progress)
    for start, end in batches(source, batch_size):
        write(
            source.ids[start:end],
            source.vectors[start:end],
            None if source.names is None else source.names[start:end],
            None if source.metadata is None else source.metadata[start:end],
        )
        bar.update(end - start)
    return len(source.vectors)

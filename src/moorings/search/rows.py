"""The in-memory table of a collection: vectors by row number, ids, names, metadata, liveness.

An upsert appends rows and marks the rows it replaces dead, so FAISS labels (row numbers)
never change between compactions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from moorings.search.types import ItemBatch, Vectors


class Rows:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.n = 0
        self._vectors: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.ids: list[str] = []
        self.names: list[str | None] = []
        self.metadata: list[dict[str, Any] | None] = []
        self.id_to_row: dict[str, int] = {}
        self._columns: dict[str, npt.NDArray[Any]] = {}
        self._numeric: dict[str, npt.NDArray[np.float64]] = {}
        self._lower: list[str] | None = None
        self._objects: tuple[npt.NDArray[np.object_], ...] | None = None

    @property
    def vectors(self) -> Vectors:
        return self._vectors[: self.n]

    @property
    def alive(self) -> npt.NDArray[np.bool_]:
        return self._alive[: self.n]

    @property
    def live_count(self) -> int:
        return len(self.id_to_row)

    @property
    def dead_count(self) -> int:
        return self.n - len(self.id_to_row)

    def _grow(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self._vectors):
            return
        cap = max(need, 2 * len(self._vectors), 1024)
        vectors = np.zeros((cap, self.dim), dtype=np.float32)
        vectors[: self.n] = self._vectors[: self.n]
        alive = np.zeros(cap, dtype=bool)
        alive[: self.n] = self._alive[: self.n]
        self._vectors, self._alive = vectors, alive

    def _changed(self) -> None:
        self._columns.clear()
        self._numeric.clear()
        self._lower = None
        self._objects = None

    def objects(self) -> tuple[npt.NDArray[np.object_], ...]:
        """ids, names and metadata as object arrays (kept until the next change), so the hits of a
        whole result matrix are gathered by one indexing call each instead of a lookup per hit."""
        objects = self._objects
        if objects is None:
            arrays = []
            for values in (self.ids, self.names, self.metadata):
                array = np.empty(self.n, dtype=object)
                array[:] = values
                arrays.append(array)
            objects = self._objects = tuple(arrays)
        return objects

    def append(self, batch: ItemBatch) -> tuple[int, int]:
        """Add the batch as new rows (replacing rows of the same ids); return the new row range."""
        self.kill(batch.ids)
        self._grow(len(batch))
        start = self.n
        end = start + len(batch)
        self._vectors[start:end] = batch.vectors
        self._alive[start:end] = True
        self.ids.extend(batch.ids)
        self.names.extend(batch.names)
        self.metadata.extend(batch.metadata)
        for offset, item_id in enumerate(batch.ids):
            self.id_to_row[item_id] = start + offset
        self.n = end
        self._changed()
        return start, end

    def kill(self, ids: list[str]) -> int:
        count = 0
        for item_id in ids:
            row = self.id_to_row.pop(item_id, None)
            if row is not None:
                self._alive[row] = False
                count += 1
        if count:
            self._changed()
        return count

    def live_batch(self) -> ItemBatch:
        """Every live item, in row order (what a compaction writes)."""
        rows = np.flatnonzero(self.alive)
        return ItemBatch(
            ids=[self.ids[r] for r in rows],
            vectors=np.ascontiguousarray(self.vectors[rows]),
            names=[self.names[r] for r in rows],
            metadata=[self.metadata[r] for r in rows],
        )

    def column(self, field: str) -> npt.NDArray[Any]:
        col = self._columns.get(field)
        if col is None:
            col = np.empty(self.n, dtype=object)
            col[:] = [(m or {}).get(field) for m in self.metadata]
            self._columns[field] = col
        return col

    def numeric(self, field: str) -> npt.NDArray[np.float64]:
        col = self._numeric.get(field)
        if col is None:
            col = np.fromiter(
                (
                    float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
                    for v in ((m or {}).get(field) for m in self.metadata)
                ),
                dtype=np.float64,
                count=self.n,
            )
            self._numeric[field] = col
        return col

    def find_name(self, text: str) -> int | None:
        """Row of the live item whose name best matches ``text``: exact, then prefix, then substring,
        then every word present; shorter names first among equals (case-insensitive)."""
        if self._lower is None:
            self._lower = [(name or "").lower() for name in self.names]
        needle = " ".join(text.lower().split())
        words = needle.split()
        if not words:
            return None
        best: tuple[int, int, str] | None = None
        best_row: int | None = None
        for row, name in enumerate(self._lower):
            if not name or not self._alive[row]:
                continue
            if name == needle:
                rank = 0
            elif name.startswith(needle):
                rank = 1
            elif needle in name:
                rank = 2
            elif all(w in name for w in words):
                rank = 3
            else:
                continue
            key = (rank, len(name), self.ids[row])
            if best is None or key < best:
                best, best_row = key, row
        return best_row

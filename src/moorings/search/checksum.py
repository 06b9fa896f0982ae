"""A history-independent digest of a collection's content, the same for every backend."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from moorings.search.types import Vectors


def digest(rows: Iterable[tuple[str, Vectors, str | None, dict[str, Any] | None]]) -> str:
    """sha256 over rows sorted by id: id, the float32 vector rounded to 1e-5 (halfvec and float
    round-trips differ in the last bits), name and canonical metadata JSON."""
    h = hashlib.sha256()
    for item_id, vector, name, metadata in sorted(rows, key=lambda r: r[0]):
        h.update(item_id.encode())
        h.update(b"\x00")
        h.update((np.round(np.asarray(vector, dtype=np.float64), 5) + 0.0).astype(np.float32).tobytes())
        h.update(b"\x00" + (name or "").encode() + b"\x00")
        h.update(orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS))
        h.update(b"\x01")
    return h.hexdigest()

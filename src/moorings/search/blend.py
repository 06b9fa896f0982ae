"""Blend similarity with a numeric metadata field, so ranking can mix in other signals.

``score = (1 - weight) * similarity + weight * metadata[field]``; a missing or non-numeric field
counts as 0. Stores return a wider candidate list (:func:`candidates`) and the blend re-ranks it.
"""

from __future__ import annotations

from typing import Any

from moorings.errors import InvalidArgument
from moorings.search.filters import FIELD_RE
from moorings.search.types import Blend, Hit, Hits

CANDIDATE_FACTOR = 5
MAX_CANDIDATES = 2000


def parse_blend(data: Any) -> Blend | None:
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) - {"field", "weight"} or "field" not in data:
        raise InvalidArgument('\'blend\' must be an object {"field": NAME, "weight": 0..1}')
    return checked_blend(data["field"], data.get("weight", 0.5))


def checked_blend(field: Any, weight: Any) -> Blend:
    """A blend from a client's field name and weight (any protocol); InvalidArgument names the bad one."""
    if not isinstance(field, str) or FIELD_RE.fullmatch(field) is None:
        raise InvalidArgument(f"blend 'field' must be a metadata field name, got {str(field)[:80]!r}")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
        raise InvalidArgument(f"blend 'weight' must be a number from 0 to 1, got {weight!r}")
    return Blend(field=field, weight=float(weight))


def candidates(k: int, blend: Blend | None) -> int:
    """How many neighbours to fetch so the blend can re-rank them."""
    return k if blend is None else min(MAX_CANDIDATES, max(k * CANDIDATE_FACTOR, k + 50))


def _signal(metadata: dict[str, Any] | None, field: str) -> float:
    value = (metadata or {}).get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def apply(hits: Hits, blend: Blend | None, k: int) -> Hits:
    if blend is None:
        return hits.head(k)
    w = blend.weight
    scored = [
        Hit(h.id, (1.0 - w) * h.score + w * _signal(h.metadata, blend.field), h.name, h.metadata)
        for h in hits
    ]
    scored.sort(key=lambda h: -h.score)
    return Hits.of(scored[:k])

"""Metadata filters: equality, ranges and ``in`` lists on top-level metadata fields, all ANDed.

Grammar (a JSON object, one entry per field)::

    {"genre": "drama"}                       equality (string, number or boolean)
    {"year": {"gte": 1990, "lt": 2000}}      range: any of gte, gt, lte, lt (numbers)
    {"lang": {"in": ["en", "fr"]}}           membership
    {"genre": {"eq": "drama"}}               equality, spelled out

A filter is parsed and checked once into a :class:`Filter`, which compiles to a boolean numpy
mask for the in-process store and to SQL with bound parameters for PostgreSQL (field names and
values are always parameters, never part of the SQL text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from moorings.errors import InvalidArgument

FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
RANGE_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
_COMPARE = {"gte": np.greater_equal, "gt": np.greater, "lte": np.less_equal, "lt": np.less}
MAX_IN = 1000
Scalar = str | int | float | bool
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # "eq", "in", or one of RANGE_OPS
    value: Any  # a scalar, a tuple of scalars (in) or a float (ranges)


@dataclass(frozen=True)
class Filter:
    conditions: tuple[Condition, ...]

    def mask(
        self, column: Callable[[str], npt.NDArray[Any]], numeric: Callable[[str], npt.NDArray[np.float64]]
    ) -> Mask:
        """Rows matching every condition; ``column(field)`` gives an object array of the field's values
        (None where absent), ``numeric(field)`` a float array (NaN where absent or not a number)."""
        result: Mask | None = None
        for cond in self.conditions:
            if cond.op in RANGE_OPS:
                values = numeric(cond.field)
                with np.errstate(invalid="ignore"):
                    part = _COMPARE[cond.op](values, cond.value)
            else:
                col = column(cond.field)
                wanted = (cond.value,) if cond.op == "eq" else cond.value
                part = np.zeros(len(col), dtype=bool)
                for v in wanted:
                    part |= _equal(col, v)
            result = part if result is None else result & part
        assert result is not None
        return result

    def sql(self, column: str = "metadata") -> tuple[str, list[Any]]:
        """A WHERE fragment (``column`` is a trusted identifier chosen by the store) and its parameters."""
        parts: list[str] = []
        params: list[Any] = []
        for cond in self.conditions:
            if cond.op in RANGE_OPS:
                parts.append(
                    f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' "
                    f"THEN ({column} ->> %s)::float8 END) {RANGE_OPS[cond.op]} %s"
                )
                params += [cond.field, cond.field, float(cond.value)]
            else:
                wanted = (cond.value,) if cond.op == "eq" else cond.value
                ors = []
                for v in wanted:
                    ors.append(f"{column} -> %s = %s::jsonb")
                    params += [cond.field, orjson.dumps(v).decode()]
                parts.append("(" + " OR ".join(ors) + ")")
        return " AND ".join(parts), params


def _equal(col: npt.NDArray[Any], value: Scalar) -> Mask:
    """Elementwise JSON equality: booleans match only booleans, numbers match numbers of equal value."""
    if isinstance(value, bool):
        return np.fromiter((v is value for v in col), dtype=bool, count=len(col))
    if isinstance(value, int | float):
        return np.fromiter(
            (isinstance(v, int | float) and not isinstance(v, bool) and v == value for v in col),
            dtype=bool,
            count=len(col),
        )
    return np.fromiter((isinstance(v, str) and v == value for v in col), dtype=bool, count=len(col))


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, str | bool | int | float) and not (isinstance(value, float) and value != value):
        return value
    raise InvalidArgument(f"filter {where}: expected a string, number or boolean, got {type(value).__name__}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InvalidArgument(f"filter {where}: a range bound must be a finite number, got {value!r}")
    return float(value)


def parse_filter(data: Any) -> Filter | None:
    """Parse and check a filter; None for no filter. Raises InvalidArgument naming the bad part."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidArgument("'filter' must be a JSON object of field: condition")
    if not data:
        return None
    conditions: list[Condition] = []
    for field, spec in data.items():
        if not isinstance(field, str) or FIELD_RE.fullmatch(field) is None:
            raise InvalidArgument(
                f"filter field {str(field)[:80]!r} is not a valid field name (letters, digits, '_', '.', '-')"
            )
        if not isinstance(spec, dict):
            conditions.append(Condition(field, "eq", _scalar(spec, f"on {field!r}")))
            continue
        if not spec:
            raise InvalidArgument(f"filter on {field!r} is an empty object: use eq, in, gte, gt, lte or lt")
        for op, value in spec.items():
            where = f"on {field!r} ({op})"
            if op == "eq":
                conditions.append(Condition(field, "eq", _scalar(value, where)))
            elif op == "in":
                if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN:
                    raise InvalidArgument(f"filter {where}: expected a list of 1 to {MAX_IN} values")
                conditions.append(Condition(field, "in", tuple(_scalar(v, where) for v in value)))
            elif op in RANGE_OPS:
                conditions.append(Condition(field, op, _number(value, where)))
            else:
                raise InvalidArgument(
                    f"filter on {field!r}: unknown operator {str(op)[:40]!r}; use eq, in, gte, gt, lte or lt"
                )
    return Filter(tuple(conditions))

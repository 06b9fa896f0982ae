"""A Python model's signature, from model.toml or from the class's ``inputs`` / ``outputs``.

Each tensor is declared by name with a dtype and a shape, in model.toml::

    [inputs.x]
    dtype = "float32"     # a Moorings dtype name ("float32", "int64", "string", ...) or a V2 one ("FP32")
    shape = [-1, 4]       # -1: a free dimension; a free first dimension lets requests be batched

or as class attributes of the same form::

    inputs = {"x": {"dtype": "float32", "shape": [-1, 4]}}
    outputs = {"y": {"dtype": "float32", "shape": [-1, 3]}}

model.toml's declaration, when it has one, is used over the class's. Other keys
of a tensor's table are left to the features that read them (e.g. image inputs).
"""

from __future__ import annotations

from typing import Any

from moorings import dtypes
from moorings.dtypes import DType
from moorings.errors import LoadError
from moorings.types import DEFAULT_SIGNATURE, Signature, TensorSpec


def declared_signature(
    toml_inputs: dict[str, dict[str, Any]],
    toml_outputs: dict[str, dict[str, Any]],
    cls: type,
) -> Signature:
    """The ``serving_default`` signature: model.toml's tables if it has them, else the class's."""
    inputs: Any = toml_inputs
    outputs: Any = toml_outputs
    where = "model.toml"
    if not toml_inputs and not toml_outputs:
        where = f"class {cls.__name__}"
        inputs, outputs = getattr(cls, "inputs", None), getattr(cls, "outputs", None)
    if not inputs or not outputs:
        raise LoadError(
            "a Python model declares its inputs and outputs, each with a dtype and a shape: in model.toml "
            '([inputs.x] dtype = "float32", shape = [-1, 4]; [outputs.y] ...) or as class attributes '
            '(inputs = {"x": {"dtype": "float32", "shape": [-1, 4]}}, outputs = {...})'
        )
    return Signature(
        DEFAULT_SIGNATURE,
        _specs(inputs, f"{where} inputs"),
        _specs(outputs, f"{where} outputs"),
    )


def _specs(tables: Any, where: str) -> dict[str, TensorSpec]:
    if not isinstance(tables, dict):
        raise LoadError(f"{where} must map each tensor's name to its dtype and shape")
    specs = {}
    for name, table in tables.items():
        if not isinstance(name, str) or not name:
            raise LoadError(f"{where}: a tensor name must be a non-empty string, got {name!r}")
        if not isinstance(table, dict):
            raise LoadError(f"{where}: {name!r} must be a table with dtype and shape")
        specs[name] = TensorSpec(
            name, _dtype(table.get("dtype"), f"{where}: {name!r}"), _shape(table, where, name)
        )
    return specs


def _dtype(value: Any, where: str) -> DType:
    if isinstance(value, str):
        for lookup in (dtypes.by_name, dtypes.from_v2):
            try:
                return lookup(value)
            except KeyError:
                continue
    known = ", ".join(d.name for d in dtypes.ALL)
    raise LoadError(f"{where} needs a dtype, one of: {known} (or its V2 name, e.g. FP32); got {value!r}")


def _shape(table: dict[str, Any], where: str, name: str) -> tuple[int, ...]:
    shape = table.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= -1 and d != 0 for d in shape
    ):
        raise LoadError(
            f"{where}: {name!r} needs a shape, a list of positive sizes or -1 for a free one, got {shape!r}"
        )
    return tuple(shape)

"""Checks of a request's tensors against the signature it runs on."""

from __future__ import annotations

import numpy as np

from moorings.errors import InvalidArgument
from moorings.types import Signature, Tensors


def check_inputs(signature: Signature, inputs: Tensors, same_batch: bool = False) -> None:
    """Raise InvalidArgument naming the first input that does not fit the signature."""
    for name in signature.inputs:
        if name not in inputs:
            missing = [name for name in signature.inputs if name not in inputs]
            raise InvalidArgument(
                f"missing input(s) {', '.join(repr(m) for m in missing)}; the signature "
                f"{signature.name!r} takes: {', '.join(sorted(signature.inputs))}"
            )
    for name, array in inputs.items():
        spec = signature.inputs.get(name)
        if spec is None:
            raise InvalidArgument(
                f"unknown input {name!r}; the signature {signature.name!r} takes: "
                + ", ".join(sorted(signature.inputs))
            )
        if spec.shape is not None and not _shape_fits(array.shape, spec.shape):
            got = "[" + ", ".join(str(d) for d in array.shape) + "]"
            raise InvalidArgument(
                f"input {name!r} has shape {got} but the signature expects {spec.describe_shape()}"
            )
    if same_batch and len(inputs) > 1:
        sizes = {name: a.shape[0] if a.ndim else None for name, a in inputs.items()}
        if len(set(sizes.values())) != 1:
            detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
            raise InvalidArgument(f"every input needs the same number of rows ({detail})")


def _shape_fits(shape: tuple[int, ...], want: tuple[int, ...]) -> bool:
    if len(shape) != len(want):
        return False
    for have, need in zip(shape, want, strict=True):  # noqa: SIM110 - a loop: no generator frame per request
        if need != have and need != -1:
            return False
    return True


def select_outputs(signature: Signature, wanted: tuple[str, ...] | None, field: str) -> list[str] | None:
    """The output names a request asks for (None: all), each once; InvalidArgument naming a bad one."""
    if wanted is None:
        return None
    unknown = [n for n in wanted if n not in signature.outputs]
    if unknown:
        raise InvalidArgument(
            f"{field} names unknown output(s) {', '.join(repr(n) for n in unknown)}; the signature "
            f"{signature.name!r} has: {', '.join(signature.outputs)}"
        )
    if len(set(wanted)) != len(wanted):
        twice = sorted({n for n in wanted if wanted.count(n) > 1})
        raise InvalidArgument(f"{field} names output(s) {', '.join(repr(n) for n in twice)} more than once")
    return list(wanted)


def lift_trailing_ones(signature: Signature, inputs: Tensors) -> tuple[Tensors, int]:
    """TF Serving's leniency: an input whose shape misses only trailing dimensions of size 1 of its
    signature (data ``[3]`` for ``[-1, 1]``) gets them; returns the inputs and how many dimensions
    were added (0: none; the same count for every lifted input, else nothing is lifted)."""
    lifted: dict[str, np.ndarray] = {}
    added = 0
    for name, array in inputs.items():
        spec = signature.inputs.get(name)
        if spec is None or spec.shape is None or len(spec.shape) <= array.ndim:
            continue
        missing = len(spec.shape) - array.ndim
        if any(d != 1 for d in spec.shape[array.ndim :]) or added not in (0, missing):
            continue
        if not _shape_fits(array.shape, spec.shape[: array.ndim]):
            continue
        lifted[name] = array.reshape(array.shape + (1,) * missing)
        added = missing
    if not lifted:
        return inputs, 0
    return {**inputs, **lifted}, added


def drop_trailing_ones(outputs: Tensors, count: int) -> Tensors:
    """Undo :func:`lift_trailing_ones` on the outputs: each loses ``count`` trailing dimensions of size 1."""
    dropped = {}
    for name, array in outputs.items():
        if array.ndim > count and all(d == 1 for d in array.shape[array.ndim - count :]):
            dropped[name] = array.reshape(array.shape[: array.ndim - count])
        else:
            dropped[name] = array
    return dropped

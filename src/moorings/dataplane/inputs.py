"""Checks of a request's tensors against the signature it runs on."""

from __future__ import annotations

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

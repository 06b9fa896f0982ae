"""The protocol-free request path: resolve a model, check inputs, run, report status.

REST and gRPC translate their wire formats into the calls here and translate
the results and errors back; nothing here knows about HTTP or protobuf.
Inference runs in a thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from moorings.batching.batcher import common_rows
from moorings.core.manager import Manager
from moorings.core.servable import Servable, ServableHandle
from moorings.errors import InvalidArgument, MooringsError, first_line
from moorings.types import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    ClassifyResult,
    Example,
    ModelRef,
    ModelStatus,
    Signature,
    Tensors,
)

T = TypeVar("T")


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


def _pick(servable: Servable, name: str | None, method: str) -> Signature:
    """The signature for :classify / :regress: the named one, else the model's one of that method."""
    if name:
        return servable.signature(name)
    default = servable.signatures.get(DEFAULT_SIGNATURE)
    if default is not None and default.method_name == method:
        return default
    matching = [s for s in servable.signatures.values() if s.method_name == method]
    if len(matching) == 1:
        return matching[0]
    return servable.signature(DEFAULT_SIGNATURE)


class DataPlane:
    def __init__(self, manager: Manager, inference_threads: int) -> None:
        self.manager = manager
        self.executor = ThreadPoolExecutor(max_workers=inference_threads, thread_name_prefix="moorings-infer")
        #: more conditions for readiness, e.g. a protocol front end still starting
        self.readiness_checks: list[Callable[[], bool]] = []

    def acquire(self, ref: ModelRef) -> ServableHandle:
        return self.manager.acquire(ref)

    def status(self, ref: ModelRef) -> ModelStatus:
        return self.manager.status(ref)

    def is_ready(self) -> bool:
        return self.manager.is_ready() and all(check() for check in self.readiness_checks)

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await _model_call(loop.run_in_executor(self.executor, fn, *args))

    async def predict(
        self,
        servable: Servable,
        signature: Signature,
        inputs: Tensors,
        same_batch: bool = False,
        deadline: float | None = None,
    ) -> Tensors:
        """Run a prediction; ``deadline`` is a ``time.monotonic()`` after which it is not started."""
        check_inputs(signature, inputs, same_batch)
        rows = common_rows(inputs)
        waiter = servable.submit_async(signature, inputs, deadline, rows) if rows is not None else None
        if waiter is None:
            outputs: Tensors = await self._run(servable.predict, signature, inputs)
        else:
            outputs = await _model_call(waiter)
        if all(type(v) is np.ndarray for v in outputs.values()):
            return outputs
        return {k: np.asarray(v) for k, v in outputs.items()}

    async def classify(
        self, servable: Servable, signature_name: str | None, examples: list[Example]
    ) -> ClassifyResult:
        signature = _pick(servable, signature_name, CLASSIFY_METHOD)
        result: ClassifyResult = await self._run(servable.classify, signature, examples)
        return result

    async def regress(
        self, servable: Servable, signature_name: str | None, examples: list[Example]
    ) -> list[float]:
        signature = _pick(servable, signature_name, REGRESS_METHOD)
        result: list[float] = await self._run(servable.regress, signature, examples)
        return result

    def close(self) -> None:
        self.executor.shutdown(wait=True)


async def _model_call(call: Awaitable[T]) -> T:
    """Await a model call; the ValueError/TypeError a runtime raises on bad input becomes a 400."""
    try:
        return await call
    except MooringsError:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"the model rejected the input: {first_line(exc)}") from None

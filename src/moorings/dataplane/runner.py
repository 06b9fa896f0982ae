"""The one request runner: every protocol's predict, classify, regress, metadata and status.

A front end (REST or gRPC, TF Serving's API or KServe V2) builds a typed
request (:mod:`moorings.requests`) and awaits the matching method
here; it never holds a servable handle or picks a signature itself. One run::

    resolve the ModelRef to a counted handle (the version stays loaded until the run ends)
      -> pick the signature -> choose the outputs -> fetch the inputs given by URL (``prepare``)
      -> decode the wire inputs against the signature
      -> check them -> batch and run (or run on the inference pool) -> the result, typed

Each run names the version it resolved to on the request's metrics observation
(:func:`moorings.observe.metrics.note_servable`), and unbatched model calls are
timed here; the edges (REST app, gRPC wrapper) count the request with its status.

This is where cross-cutting features go, once for every protocol: metrics,
request ids, deadlines, authorisation, warm-up replay, Python-model hooks and
chains. Errors are :class:`~moorings.errors.MooringsError` subclasses; the REST
app and the gRPC ``rpc`` wrapper each map them to their status codes in one place.

Threads: unbatched calls (classify, regress, signatures that are not batched)
run on this runner's inference pool, at most ``max_waiting_calls`` of them waiting
for a thread (beyond that: 429 / RESOURCE_EXHAUSTED, as a full batching queue);
batched calls go to their servable's batcher. Nothing here blocks the event loop
except the batcher's inline path (see :mod:`moorings.batching.batcher`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, TypeVar

import numpy as np

from moorings.batching.batcher import common_rows
from moorings.codecs.classification import named_classes
from moorings.core.manager import Manager
from moorings.core.servable import Servable
from moorings.dataplane.classify import classify_by_scores, needs_scores_classify
from moorings.dataplane.inputs import check_inputs, drop_trailing_ones, lift_trailing_ones, select_outputs
from moorings.dataplane.stream import ResultStream
from moorings.errors import (
    DeadlineExceeded,
    InvalidArgument,
    MooringsError,
    ResourceExhausted,
    first_line,
    hide_paths,
)
from moorings.fetch.resolver import InputFetcher
from moorings.observe import metrics, tracing
from moorings.observe.metrics import note_servable
from moorings.requests import (
    ClassifyOutcome,
    ExamplesRequest,
    ModelMetadata,
    PredictRequest,
    PredictResult,
    RegressOutcome,
)
from moorings.types import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    ClassifyResult,
    ModelRef,
    ModelStatus,
    ServableId,
    Signature,
    Tensors,
    VersionState,
)

T = TypeVar("T")


class DataPlane:
    def __init__(
        self,
        manager: Manager,
        inference_threads: int,
        fetcher: InputFetcher | None = None,
        max_waiting_calls: int = 64,
    ) -> None:
        self.manager = manager
        #: reads the inputs that requests give by URL (front ends build ``PredictRequest.prepare`` with it)
        self.fetcher = fetcher or InputFetcher()
        self.executor = ThreadPoolExecutor(max_workers=inference_threads, thread_name_prefix="moorings-infer")
        #: calls handed to the pool may be running (one per thread) or waiting (at most this many)
        self._max_pending = inference_threads + max_waiting_calls
        self._pending = 0  # handed to the pool, not yet finished or cancelled
        self._pending_lock = threading.Lock()  # warm-up runs requests on a loop of its own thread
        #: more conditions for readiness, e.g. a protocol front end still starting
        self.readiness_checks: list[Callable[[], bool]] = []

    # -- the server and its models ---------------------------------------------------------------

    def is_ready(self) -> bool:
        return self.manager.is_ready() and all(check() for check in self.readiness_checks)

    def model_names(self) -> list[str]:
        return self.manager.model_names()

    def status(self, ref: ModelRef) -> ModelStatus:
        status = self.manager.status(ref)
        if status.versions:
            note_servable(ServableId(ref.name, max(v.version for v in status.versions)))
        return status

    def is_model_ready(self, ref: ModelRef) -> bool:
        """True when a version answers ``ref``; NotFound / Unavailable say why not."""
        with self.manager.acquire(ref) as servable:
            note_servable(servable.id)
            return True

    def metadata(self, ref: ModelRef) -> ModelMetadata:
        with self.manager.acquire(ref) as servable:
            note_servable(servable.id)
            servable_id, kind, signatures = servable.id, servable.runtime.kind, servable.signatures
        available = [
            v.version
            for v in self.manager.status(ModelRef(servable_id.name)).versions
            if v.state is VersionState.AVAILABLE
        ]
        return ModelMetadata(servable_id, kind, dict(signatures), sorted(available))

    # -- requests ----------------------------------------------------------------------------------

    async def predict(self, request: PredictRequest, servable: Servable | None = None) -> PredictResult:
        """Run ``request`` (given ``servable``: on it, not the ref's; warm-up runs an unpublished one)."""
        with self.manager.acquire(request.ref) if servable is None else nullcontext(servable) as servable:
            note_servable(servable.id)
            signature = servable.signature(request.signature_name)
            wanted = None
            if request.outputs is not None:
                wanted = select_outputs(signature, request.outputs, request.outputs_field)
            if request.prepare is not None:  # inputs by URL: fetched off the loop
                await request.prepare(request.deadline)
            inputs = request.decode(signature)
            lifted = 0
            try:
                check_inputs(signature, inputs, request.same_batch)
            except InvalidArgument:
                if not request.lift_trailing_ones:
                    raise
                inputs, lifted = lift_trailing_ones(signature, inputs)
                if not lifted:
                    raise
                check_inputs(signature, inputs, request.same_batch)
            runtime = servable.runtime
            if runtime.preprocess is not None:  # a Python model's per-request step
                inputs = await self._off_loop(runtime.preprocess, inputs)
            # on the servable's batcher when the signature is batched, else on the inference pool
            # (written out here rather than in a helper: one coroutine less per request)
            rows = common_rows(inputs)
            waiter = (
                servable.submit_async(signature, inputs, request.deadline, rows) if rows is not None else None
            )
            if waiter is None:
                predict = _timed(servable, _unless_expired(servable.predict, request.deadline))
                outputs: Tensors = await self._off_loop(predict, signature, inputs)
            else:
                outputs = await _model_call(waiter)
            if runtime.postprocess is not None:
                outputs = await self._off_loop(runtime.postprocess, outputs)
            servable_id, classes = servable.id, servable.classes
        for value in outputs.values():  # a loop, not all(): no generator per request
            if type(value) is not np.ndarray:
                outputs = {k: np.asarray(v) for k, v in outputs.items()}
                break
        if wanted is not None:
            outputs = {name: outputs[name] for name in wanted}
        if lifted:
            outputs = drop_trailing_ones(outputs, lifted)
        return PredictResult(servable_id, signature, outputs, classes)

    async def stream(self, request: PredictRequest) -> ResultStream:
        """Open the stream of ``request``'s partial results (see :mod:`moorings.dataplane.stream`).

        Errors before the first result (no such model, bad inputs) are raised here. A model that
        does not stream answers a stream of one result, its ``predict``'s. Close what is returned.
        """
        handle = self.manager.acquire(request.ref)
        try:
            servable = handle.servable
            note_servable(servable.id)
            if not servable.runtime.streams:
                result = await self.predict(request, servable=servable)
                handle.release()
                return ResultStream.single(self.executor, servable, result)
            signature = servable.signature(request.signature_name)
            wanted = None
            if request.outputs is not None:
                wanted = select_outputs(signature, request.outputs, request.outputs_field)
            inputs = request.decode(signature)
            check_inputs(signature, inputs, request.same_batch)
            if servable.runtime.preprocess is not None:
                inputs = await self._off_loop(servable.runtime.preprocess, inputs)
        except BaseException:
            handle.release()
            raise
        return ResultStream(self.executor, handle, servable, signature, inputs, wanted, request.deadline)

    async def classify(self, request: ExamplesRequest, servable: Servable | None = None) -> ClassifyOutcome:
        with self.manager.acquire(request.ref) if servable is None else nullcontext(servable) as servable:
            note_servable(servable.id)
            if needs_scores_classify(servable):  # class names, but no classify method of its own
                signature = servable.signature(request.signature_name)
                by_scores = _timed(servable, _unless_expired(classify_by_scores, request.deadline))
                result = await self._off_loop(by_scores, servable, signature, request.examples)
                return ClassifyOutcome(servable.id, signature, result)
            signature = _pick(servable, request.signature_name, CLASSIFY_METHOD)
            classify = _timed(servable, _unless_expired(servable.classify, request.deadline))
            result = await self._off_loop(classify, signature, request.examples)
            classes = servable.classes
            if not result.named and classes is not None and classes.names:
                result = ClassifyResult(named_classes(result.labels, classes.names), result.scores)
            return ClassifyOutcome(servable.id, signature, result)

    async def regress(self, request: ExamplesRequest, servable: Servable | None = None) -> RegressOutcome:
        with self.manager.acquire(request.ref) if servable is None else nullcontext(servable) as servable:
            note_servable(servable.id)
            signature = _pick(servable, request.signature_name, REGRESS_METHOD)
            regress = _timed(servable, _unless_expired(servable.regress, request.deadline))
            values = await self._off_loop(regress, signature, request.examples)
            return RegressOutcome(servable.id, signature, values)

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        with self._pending_lock:
            if self._pending >= self._max_pending:
                raise ResourceExhausted(
                    f"the inference queue is full ({self._pending} calls under way or waiting); retry later"
                )
            self._pending += 1
        try:
            future = self.executor.submit(fn, *args)
        except BaseException:
            self._call_done(None)
            raise
        future.add_done_callback(self._call_done)  # finished, failed, or cancelled before it ran
        return await _model_call(asyncio.wrap_future(future))

    def _call_done(self, _: object) -> None:
        with self._pending_lock:
            self._pending -= 1

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.fetcher.close()


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


def _unless_expired(fn: Callable[..., T], deadline: float | None) -> Callable[..., T]:
    """``fn``, refusing to start once ``deadline`` (``time.monotonic()``) has passed (as the batcher does)."""
    if deadline is None:
        return fn

    def run(*args: Any) -> T:
        if time.monotonic() > deadline:
            raise DeadlineExceeded("the request's deadline passed while it waited for the model")
        return fn(*args)

    return run


def _timed(servable: Servable, fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` reporting its duration as a model call of ``servable`` (``fn`` itself when metrics are off),
    and, while spans are made, recording its times on the request's observation."""
    if tracing.switch.enabled:
        return _traced(servable, fn)
    if not metrics.switch.enabled:
        return fn

    def timed(*args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            metrics.model_call(servable.id, time.perf_counter() - start)

    return timed


def _traced(servable: Servable, fn: Callable[..., T]) -> Callable[..., T]:
    observation = metrics.current.get()  # on the event loop, in the request's context
    if observation is not None:
        observation.queued = time.perf_counter()

    def traced(*args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            end = time.perf_counter()
            if metrics.switch.enabled:
                metrics.model_call(servable.id, end - start)
            if observation is not None:
                observation.model_start, observation.model_end = start, end
                observation.batch_rows = 0

    return traced


async def _model_call(call: Awaitable[T]) -> T:
    """Await a model call; the ValueError/TypeError a runtime raises on bad input becomes a 400."""
    try:
        return await call
    except MooringsError:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"the model rejected the input: {hide_paths(first_line(exc))}") from None

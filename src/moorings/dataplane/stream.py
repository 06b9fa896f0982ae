"""One request's partial results, as a Python model's ``stream`` yields them.

A :class:`ResultStream` is what :meth:`DataPlane.stream <moorings.dataplane.runner.DataPlane.stream>`
returns once the request has resolved, decoded and checked (errors up to there
are raised before any result). It is an async iterator of
:class:`~moorings.requests.PredictResult` and must be closed (``aclose``).

- The model's generator runs on the inference pool, one step per ``__anext__``:
  a step is taken only when the front end asks for the next result, so a slow
  reader holds the generator back instead of making the server buffer results
  (front ends ask again once their transport has taken the last one).
- ``aclose`` (the client went away, or the stream ended) closes the generator
  (``generator.close()``, so its ``finally`` blocks run) on the pool, after any
  step under way, and then releases the version.
- A deadline bounds the wait for the stream's start: a first step that would
  start after it raises DeadlineExceeded; a stream under way is not cut.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor

from moorings.core.servable import Servable, ServableHandle
from moorings.errors import DeadlineExceeded
from moorings.requests import PredictResult
from moorings.types import Signature, Tensors

log = logging.getLogger(__name__)


class ResultStream:
    """An async iterator of results; ``aclose()`` ends it (idempotent)."""

    def __init__(
        self,
        executor: Executor,
        handle: ServableHandle | None,
        servable: Servable,
        signature: Signature,
        inputs: Tensors,
        wanted: list[str] | None,
        deadline: float | None,
        ready: PredictResult | None = None,
    ) -> None:
        self._executor = executor
        self._handle = handle
        self._servable = servable
        self._signature = signature
        self._inputs = inputs
        self._wanted = wanted
        self._deadline = deadline
        #: a stream of one result already made (a model that does not stream)
        self._ready = ready
        self._iterator: Iterator[Tensors] | None = None
        self._lock = threading.Lock()  # one step at a time, and no close during a step
        self._closed = False  # on the pool's side: the generator is closed
        self._done = False  # on the loop's side: no more results

    @classmethod
    def single(cls, executor: Executor, servable: Servable, result: PredictResult) -> ResultStream:
        """A stream of one result (the version is released already)."""
        return cls(executor, None, servable, result.signature, {}, None, None, ready=result)

    def __aiter__(self) -> ResultStream:
        return self

    async def __anext__(self) -> PredictResult:
        if self._done:
            raise StopAsyncIteration
        ready = self._ready
        if ready is not None:
            self._ready = None
            self._done = True
            return ready
        loop = asyncio.get_running_loop()
        outputs = await loop.run_in_executor(self._executor, self._step)
        if outputs is None:
            await self.aclose()
            raise StopAsyncIteration
        wanted = self._wanted
        if wanted is not None:
            outputs = {name: outputs[name] for name in wanted if name in outputs}
        servable = self._servable
        return PredictResult(servable.id, self._signature, outputs, servable.classes)

    def _step(self) -> Tensors | None:
        """On the pool: the generator's next result, postprocessed; None at its end."""
        with self._lock:
            if self._closed:
                return None
            runtime = self._servable.runtime
            if self._iterator is None:
                if self._deadline is not None and time.monotonic() > self._deadline:
                    raise DeadlineExceeded("the request's deadline passed before its stream started")
                self._iterator = runtime.stream(self._signature, self._inputs)
                self._inputs = {}
            try:
                outputs = next(self._iterator)
            except StopIteration:
                return None
            post = runtime.postprocess
            return outputs if post is None else post(outputs)

    async def aclose(self) -> None:
        """No more results: close the generator on the pool (after a step under way), release the version."""
        if self._done and self._handle is None:
            return
        self._done = True
        self._ready = None
        try:
            self._executor.submit(self._close)
        except RuntimeError:  # the pool is shut down (the server is stopping): close here
            self._close()

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            iterator, self._iterator = self._iterator, None
            if iterator is not None:
                close = getattr(iterator, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        log.exception("closing a model's stream failed")
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.release()

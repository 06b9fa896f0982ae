"""A dynamic batcher for one servable.

Requests queue up; each of ``batch_threads`` workers takes the oldest request,
gathers queued requests that can share its batch (same signature, same trailing
shapes and dtypes) up to ``max_batch_size`` rows, waits up to
``batch_timeout_micros`` for more when the batch is not full (0: never waits),
runs the model once, and hands each request its rows of the outputs.

- Callers are on an event loop and use ``submit_async``: the workers are woken once
  per loop iteration, after every request that arrived in it is queued, instead of
  once per request (on a busy core this is what lets batches form at all: a worker
  woken per request preempts the loop and runs batches of one), and each batch's
  results go back to the loop in one callback rather than one per request.
- A full queue refuses new requests at once (ResourceExhausted).
- A request whose deadline passed while queued is never run (DeadlineExceeded).
- A request larger than ``max_batch_size`` runs alone, in chunks.
- With ``allowed_batch_sizes`` the batch is padded (repeating its last row) up to
  the next allowed size; the padding rows are dropped from the outputs.
- With ``batch_timeout_micros = 0``, a lone request of at most ``SMALL_ROWS`` rows
  that finds the batcher idle runs on the event loop's own thread, without the
  hand-off to a worker and back (two thread switches), when the model's recent
  calls of that size took less than ``inline_micros`` (which bounds how long the
  loop is held up) and recent calls served about one request each. Requests that
  arrive together go to the workers, so the loop keeps reading while a batch runs
  and the next batch can form. Why this path is kept: docs/design.md, "Threads".
- With a ``prepare`` step (a version whose model.toml declares raw inputs, such as encoded
  images), each request's inputs are prepared on the batch thread, one request at a time so
  that a bad image fails only its own request, before the batch is stacked; such a batcher
  never runs inline, so decoding never holds up the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from moorings.batch_settings import BatchingSettings
from moorings.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted
from moorings.observe import metrics, tracing
from moorings.types import Signature, Tensors

if TYPE_CHECKING:
    from moorings.observe.metrics import BatchObserver, Observation

Predict = Callable[[Signature, Tensors], Tensors]
#: turns one request's raw inputs (encoded images) into the model's tensors, on a batch thread
Prepare = Callable[[Signature, Tensors], Tensors]
BatchKey = tuple[str, tuple[tuple[str, tuple[int, ...], str], ...]]
#: calls of at most this many rows count as small: their time decides whether a lone request runs inline
SMALL_ROWS = 8
#: inline runs only while the model is called about one request at a time (a moving average below this)
INLINE_MAX_REQUESTS_PER_CALL = 1.5


def batchable(signature: Signature) -> bool:
    """Whether every input and output of the signature has a free leading (batch) dimension."""
    specs = [*signature.inputs.values(), *signature.outputs.values()]
    return bool(signature.inputs) and all(s.shape is not None and s.shape[:1] == (-1,) for s in specs)


@dataclass(eq=False, slots=True)
class _Task:
    signature: Signature
    inputs: Tensors
    rows: int
    key: BatchKey
    deadline: float | None
    #: the caller awaits ``waiter``, which is resolved on ``loop`` (the caller's event loop)
    waiter: asyncio.Future[Tensors]
    loop: asyncio.AbstractEventLoop
    #: ``time.perf_counter()`` when it was queued
    enqueued: float
    #: the request's observation, while spans are made (the batch's times are recorded on it)
    observation: Observation | None = None

    def wanted(self) -> bool:
        """Whether the caller still wants the result (it may have given up, e.g. disconnected)."""
        return not self.waiter.cancelled()


Outcome = tuple[_Task, Tensors | None, BaseException | None]


def _note_times(batch: list[_Task], start: float, end: float) -> None:
    """Record the batch's times on its requests' observations (for their spans)."""
    rows = sum(t.rows for t in batch)
    for task in batch:
        observation = task.observation
        if observation is not None:
            observation.queued = task.enqueued
            observation.model_start = start
            observation.model_end = end
            observation.batch_rows = rows


class Batcher:
    """The batcher of one servable: ``submit_async`` from the event loop, ``close`` on unload."""

    def __init__(
        self,
        predict: Predict,
        settings: BatchingSettings,
        name: str = "",
        observer: BatchObserver | None = None,
        prepare: Prepare | None = None,
    ) -> None:
        self._predict = predict
        self._prepare = prepare
        self._observer = observer
        self.settings = settings
        self._queue: deque[_Task] = deque()
        self._queued_rows = 0
        #: guards the queue and the counts; ``with self._lock`` is the C lock's own context manager,
        #: where ``with self._cond`` would run two Python-level methods per request
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._wake_pending = False
        #: batches being run now (by workers or inline); inline runs only when this is 0
        self._running = 0
        #: recent time of a small model call (moving average, seconds); None until one is measured
        self.small_call_seconds: float | None = None
        #: requests per model call (moving average): above one, requests are arriving concurrently
        self.requests_per_call = 1.0
        #: requests submitted per event loop iteration (moving average): the first
        #: one may run inline at once, so this, not requests per call, shows pairs arriving together
        self.arrivals_per_iteration = 1.0
        self._arrivals = 0  # in the current loop iteration
        self._threads = [
            threading.Thread(target=self._work, name=f"moorings-batch-{name}-{i}", daemon=True)
            for i in range(settings.batch_threads)
        ]
        for thread in self._threads:
            thread.start()
        if observer is not None:
            observer.track_depth(self.queued_requests)

    def queued_requests(self) -> int:
        """Requests waiting now (read without the lock: a sample)."""
        return len(self._queue)

    # -- submitting ----------------------------------------------------------------------------

    def submit_async(
        self, signature: Signature, inputs: Tensors, deadline: float | None, rows: int
    ) -> asyncio.Future[Tensors]:
        """Queue a request from the running event loop; await the returned future for its outputs.

        ``rows``: the leading dimension every input shares (``common_rows``), checked by the caller.
        ``deadline``: a ``time.monotonic()`` time after which the request is not run.
        """
        loop = asyncio.get_running_loop()
        if len(inputs) == 1:
            ((name, array),) = inputs.items()
            key: BatchKey = (signature.name, ((name, array.shape[1:], array.dtype.str),))
        else:
            key = (signature.name, tuple((n, a.shape[1:], a.dtype.str) for n, a in sorted(inputs.items())))
        task = _Task(signature, inputs, rows, key, deadline, loop.create_future(), loop, time.perf_counter())
        if tracing.switch.enabled:
            task.observation = metrics.current.get()
        self._enqueue(task, loop)
        return task.waiter

    def _enqueue(self, task: _Task, loop: asyncio.AbstractEventLoop) -> None:
        rows = task.rows
        with self._lock:
            if self._closed:
                raise ResourceExhausted("the model version is shutting down; retry")
            if self._queued_rows + rows > self.settings.max_enqueued_rows and self._queue:
                raise ResourceExhausted(
                    f"the batching queue is full ({self._queued_rows} rows waiting); retry later"
                )
            self._queue.append(task)
            self._queued_rows += rows
            self._arrivals += 1
            if self._wake_pending:
                return  # this loop iteration's wake-up is scheduled: the request batches behind it
            # the first request of this loop iteration: the wake-up is scheduled either way (the
            # rest of the iteration's requests batch behind it), and the request may run now
            self._wake_pending = True
            inline = self._take_inline(loop)
            if inline is not None:
                self._running += 1
        loop.call_soon(self._wake, loop)
        if inline is not None:
            self._run_inline(inline)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the event loop, once per iteration: run a lone small request here, else wake a worker."""
        with self._lock:
            self._wake_pending = False
            self.arrivals_per_iteration = _moving_average(self.arrivals_per_iteration, self._arrivals)
            self._arrivals = 0
            task = self._take_inline(loop)
            if task is None:
                if self._queue:
                    self._cond.notify()
                return
            self._running += 1
        self._run_inline(task)

    def _run_inline(self, task: _Task) -> None:
        """Run ``task`` on this (its event loop's) thread; ``_running`` was counted for it."""
        try:
            _resolve(self._serve([task]))
        finally:
            with self._lock:
                self._running -= 1
                if self._queue:
                    self._cond.notify()

    def _take_inline(self, loop: asyncio.AbstractEventLoop) -> _Task | None:
        """The queue's only task, if it should run inline now on ``loop`` (the lock is held)."""
        limit = self.settings.inline_micros
        if not limit or self._prepare is not None or self._running or len(self._queue) != 1 or self._closed:
            return None
        if self.settings.batch_timeout_micros:
            return None  # the first request is meant to wait for company
        if max(self.requests_per_call, self.arrivals_per_iteration) >= INLINE_MAX_REQUESTS_PER_CALL:
            return None  # under concurrent load a lone request is a gap between arrivals: let batches form
        task = self._queue[0]
        cost = self.small_call_seconds
        if cost is None or cost * 1e6 >= limit or self.settings.padded_size(task.rows) > SMALL_ROWS:
            return None
        if task.loop is not loop:
            return None  # another loop's request: its result is delivered there
        self._queue.popleft()
        self._queued_rows -= task.rows
        return task

    # -- workers -------------------------------------------------------------------------------

    def _take_batch(self) -> list[_Task] | None:
        """Block for the next batch; None once closed and drained."""
        limit = self.settings.max_batch_size
        with self._lock:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._queue.popleft()
            batch, rows = [first], first.rows
            self._queued_rows -= first.rows
            self._running += 1
            timeout = self.settings.batch_timeout_micros / 1e6
            wait_until = time.monotonic() + timeout
            while rows < limit:
                rows += self._gather(batch, first.key, limit - rows)
                remaining = wait_until - time.monotonic()
                if rows >= limit or remaining <= 0 or self._closed:
                    break
                self._cond.wait(remaining)
            return batch

    def _gather(self, batch: list[_Task], key: BatchKey, room: int) -> int:
        """Move queued tasks of the same key that fit into ``batch``; return the rows added."""
        added = 0
        kept: deque[_Task] = deque()
        while self._queue:
            task = self._queue.popleft()
            if task.key == key and task.rows <= room - added:
                batch.append(task)
                added += task.rows
                self._queued_rows -= task.rows
            else:
                kept.append(task)
                if added >= room:
                    break
        kept.extend(self._queue)
        self._queue = kept
        return added

    def _work(self) -> None:
        while (batch := self._take_batch()) is not None:
            try:
                outcomes = self._serve(batch)
            finally:
                with self._lock:
                    self._running -= 1
            _deliver(outcomes)

    def _serve(self, batch: list[_Task]) -> list[Outcome]:
        """Run the tasks still wanted and in time; the outcome of each."""
        now = time.monotonic()
        live, expired = [], []
        for task in batch:
            if not task.wanted():
                continue  # the caller gave up (e.g. the client went away)
            if task.deadline is not None and now > task.deadline:
                expired.append(task)
            else:
                live.append(task)
        outcomes: list[Outcome] = []
        if expired:
            late = DeadlineExceeded("the request's deadline passed while it was queued")
            outcomes = [(task, None, late) for task in expired]
        if live:
            outcomes += self._run(live)
        return outcomes

    def _run(self, batch: list[_Task]) -> list[Outcome]:
        failed: list[Outcome] = []
        if self._prepare is not None:
            batch, failed = self._prepared(batch)
            if not batch:
                return failed
        self.requests_per_call = _moving_average(self.requests_per_call, len(batch))
        signature = batch[0].signature
        start = time.perf_counter()
        try:
            if len(batch) == 1 and batch[0].rows > self.settings.max_batch_size:
                outputs = self._run_chunked(signature, batch[0].inputs, batch[0].rows)
            else:
                inputs = {
                    name: np.concatenate([t.inputs[name] for t in batch])
                    if len(batch) > 1
                    else batch[0].inputs[name]
                    for name in batch[0].inputs
                }
                outputs = self._run_padded(signature, inputs, sum(t.rows for t in batch))
        except BaseException as exc:
            return [*failed, *((task, None, exc) for task in batch)]
        end = time.perf_counter()
        observer = self._observer
        if observer is not None:
            observer.batch(start, end - start, sum(t.rows for t in batch), [t.enqueued for t in batch])
        if tracing.switch.enabled:
            _note_times(batch, start, end)
        results: list[Outcome] = failed
        start = 0
        for task in batch:
            end = start + task.rows
            results.append((task, {name: value[start:end] for name, value in outputs.items()}, None))
            start = end
        return results

    def _prepared(self, batch: list[_Task]) -> tuple[list[_Task], list[Outcome]]:
        """Each task with its inputs prepared, and the outcomes of those whose preparation failed."""
        assert self._prepare is not None
        ready: list[_Task] = []
        failed: list[Outcome] = []
        for task in batch:
            try:
                task.inputs = self._prepare(task.signature, task.inputs)
            except BaseException as exc:
                failed.append((task, None, exc))
            else:
                ready.append(task)
        return ready, failed

    def _run_padded(self, signature: Signature, inputs: Tensors, rows: int) -> Tensors:
        size = self.settings.padded_size(rows)
        if size > rows:
            inputs = {
                name: np.concatenate([a, np.repeat(a[-1:], size - rows, axis=0)])
                for name, a in inputs.items()
            }
        start = time.perf_counter()
        outputs = self._predict(signature, inputs)
        if size <= SMALL_ROWS:
            took = time.perf_counter() - start
            previous = self.small_call_seconds
            self.small_call_seconds = took if previous is None else _moving_average(previous, took)
        for name, value in outputs.items():
            if value.ndim == 0 or value.shape[0] != size:
                raise InvalidArgument(
                    f"output {name!r} does not have one row per input row; "
                    "disable batching for this model ([batching] enabled = false)"
                )
        return {name: value[:rows] for name, value in outputs.items()} if size > rows else outputs

    def _run_chunked(self, signature: Signature, inputs: Tensors, rows: int) -> Tensors:
        step = self.settings.max_batch_size
        parts = [
            self._run_padded(signature, {n: a[i : i + step] for n, a in inputs.items()}, min(step, rows - i))
            for i in range(0, rows, step)
        ]
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Finish what is queued, then stop the workers."""
        with self._lock:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        if self._observer is not None:
            self._observer.close()


def _deliver(outcomes: list[Outcome]) -> None:
    """Hand each event loop its callers' results in one callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(outcomes: list[Outcome]) -> None:
    """On the caller's event loop: settle the waiters that are still wanted."""
    for task, value, error in outcomes:
        waiter = task.waiter
        if waiter.done():
            continue
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(value)  # type: ignore[arg-type]


def _moving_average(previous: float, value: float) -> float:
    """An exponentially weighted average that follows the last ~5 values."""
    return 0.8 * previous + 0.2 * value


def common_rows(inputs: Tensors) -> int | None:
    """The leading dimension every input shares (what batching needs), else None."""
    rows = None
    for array in inputs.values():
        if not array.ndim or (rows is not None and array.shape[0] != rows):
            return None
        rows = array.shape[0]
    return rows

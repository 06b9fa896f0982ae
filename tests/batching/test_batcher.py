"""The batcher as the dataplane drives it: ``submit_async`` from an event loop (one per test).

The model is a plain Python callable with the runtime's ``predict`` signature. A test that needs
requests to queue up holds the model's first call on an event, waits (on another event) until a
batch thread is inside that call, queues what it needs, then lets the model go: nothing here
depends on how fast the machine is.
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import numpy as np
import pytest

from moorings import dtypes
from moorings.batch_settings import BatchingSettings, parse_batching
from moorings.batching.batcher import Batcher, Predict, batchable, common_rows
from moorings.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted
from moorings.types import Signature, Tensors, TensorSpec

T = TypeVar("T")

SIG = Signature(
    "s",
    {"x": TensorSpec("x", dtypes.FLOAT32, (-1, -1))},
    {"y": TensorSpec("y", dtypes.FLOAT32, (-1, -1))},
)
#: the longest any test waits for something that should happen at once (only a hung batcher hits it)
PATIENCE = 10.0


class Model:
    """Doubles its input and records each call's rows and thread.

    ``hold()`` makes the next calls block until ``release()``; ``entered`` is set when a call starts.
    """

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.threads: list[str] = []
        self.entered = threading.Event()
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self.entered.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        self.calls.append(inputs["x"].shape[0])
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        if not self._open.wait(PATIENCE):
            raise RuntimeError("the test never released the model")
        return {"y": inputs["x"] * 2}


@pytest.fixture
def model() -> Model:
    return Model()


@contextlib.contextmanager
def _batcher(model: Model, predict: Predict | None = None, **settings: object) -> Iterator[Batcher]:
    """A batcher over ``predict`` (default: ``model.predict``), closed at the end with the model let go."""
    batcher = Batcher(predict or model.predict, BatchingSettings(**settings))  # type: ignore[arg-type]
    try:
        yield batcher
    finally:
        model.release()
        batcher.close()


@pytest.fixture
def batcher(model: Model) -> Iterator[Batcher]:
    with _batcher(model, max_batch_size=8, batch_threads=1) as batcher:
        yield batcher


def _x(rows: int, value: float, width: int = 2, dtype: type = np.float32) -> np.ndarray:
    return np.full((rows, width), value, dtype)


def submit(batcher: Batcher, x: np.ndarray, deadline: float | None = None) -> asyncio.Future[Tensors]:
    """What the dataplane does: count the rows, then queue the request."""
    rows = common_rows({"x": x})
    assert rows is not None
    return batcher.submit_async(SIG, {"x": x}, deadline, rows)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run ``scenario`` on a fresh event loop, as a server's loop would; a hung batcher fails it."""

    async def main() -> T:
        return await asyncio.wait_for(scenario(), 3 * PATIENCE)

    return asyncio.run(main())


async def _entered(model: Model) -> None:
    """Until a batch thread is inside the model (the loop keeps running: it wakes the workers)."""
    assert await asyncio.to_thread(model.entered.wait, PATIENCE), "the model was never called"


async def _hold_first(model: Model, batcher: Batcher) -> asyncio.Future[Tensors]:
    """A first request that a batch thread holds in the model until ``model.release()``."""
    model.hold()
    first = submit(batcher, _x(1, 0))
    await _entered(model)
    return first


# -- forming batches ------------------------------------------------------------------------------


def test_queued_requests_run_as_one_batch_and_get_their_own_rows(model: Model, batcher: Batcher) -> None:
    async def scenario() -> None:
        first = await _hold_first(model, batcher)
        waiters = [submit(batcher, _x(i % 3 + 1, i)) for i in range(1, 5)]
        model.release()
        np.testing.assert_array_equal((await first)["y"], _x(1, 0))
        for i, waiter in enumerate(waiters, start=1):
            np.testing.assert_array_equal((await waiter)["y"], _x(i % 3 + 1, 2 * i))

    run(scenario)
    assert model.calls == [1, 2 + 3 + 1 + 2]


def test_a_lone_request_to_an_idle_model_starts_without_waiting_for_company(
    model: Model, batcher: Batcher
) -> None:
    async def scenario() -> None:
        first = await _hold_first(model, batcher)  # in the model with nothing else ever submitted
        assert model.calls == [1]
        model.release()
        await first

    run(scenario)


def test_submissions_of_one_loop_iteration_wake_the_idle_worker_once_and_share_a_batch(
    model: Model, batcher: Batcher
) -> None:
    async def scenario() -> list[Tensors]:
        waiters = [submit(batcher, _x(i % 2 + 1, i)) for i in range(5)]
        # the loop is still in this iteration (this thread blocks without yielding to it): the
        # worker has not been woken, so it cannot take the first requests on their own
        assert not model.entered.wait(0.05)
        return list(await asyncio.gather(*waiters))

    for i, out in enumerate(run(scenario)):
        np.testing.assert_array_equal(out["y"], _x(i % 2 + 1, 2 * i))
    assert model.calls == [1 + 2 + 1 + 2 + 1]


def test_a_batch_timeout_waits_for_more_until_the_batch_is_full(model: Model) -> None:
    with _batcher(
        model, max_batch_size=4, batch_timeout_micros=int(PATIENCE * 1e6), batch_threads=1
    ) as batcher:

        async def scenario() -> None:
            waiters = []
            for i in range(4):  # one per loop iteration: each wakes the waiting worker
                waiters.append(submit(batcher, _x(1, i)))
                await asyncio.sleep(0)
            for i, waiter in enumerate(waiters):
                np.testing.assert_array_equal((await waiter)["y"], _x(1, 2 * i))

        run(scenario)
        assert model.calls == [4]


def test_different_trailing_shapes_or_dtypes_never_share_a_batch(model: Model, batcher: Batcher) -> None:
    async def scenario() -> None:
        first = await _hold_first(model, batcher)
        narrow = [submit(batcher, _x(1, 1, width=2)) for _ in range(2)]
        wide = [submit(batcher, _x(1, 1, width=3)) for _ in range(2)]
        double = [submit(batcher, _x(1, 1, dtype=np.float64)) for _ in range(2)]
        model.release()
        await first
        assert [out["y"].shape for out in await asyncio.gather(*narrow)] == [(1, 2)] * 2
        assert [out["y"].shape for out in await asyncio.gather(*wide)] == [(1, 3)] * 2
        assert [out["y"].dtype for out in await asyncio.gather(*double)] == [np.float64] * 2

    run(scenario)
    assert sorted(model.calls) == [1, 2, 2, 2]


def test_padding_to_allowed_sizes(model: Model) -> None:
    with _batcher(model, max_batch_size=8, allowed_batch_sizes=(4, 8), batch_threads=1) as batcher:

        async def scenario() -> None:
            for rows in (3, 5):
                x = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
                np.testing.assert_array_equal((await submit(batcher, x))["y"], x * 2)

        run(scenario)
        assert model.calls == [4, 8]  # padded; the padding rows are not in the outputs


def test_a_request_larger_than_the_batch_runs_alone_in_chunks(model: Model, batcher: Batcher) -> None:
    x = np.arange(40, dtype=np.float32).reshape(20, 2)

    async def scenario() -> Tensors:
        return await submit(batcher, x)

    np.testing.assert_array_equal(run(scenario)["y"], x * 2)
    assert model.calls == [8, 8, 4]


# -- refusing and dropping ------------------------------------------------------------------------


def test_a_full_queue_refuses_at_once(model: Model) -> None:
    with _batcher(model, max_batch_size=2, max_enqueued_batches=1, batch_threads=1) as batcher:

        async def scenario() -> None:
            first = await _hold_first(model, batcher)
            queued = submit(batcher, _x(2, 1))  # the queue's two rows
            with pytest.raises(ResourceExhausted, match="queue is full"):
                submit(batcher, _x(1, 2))
            model.release()
            await first
            np.testing.assert_array_equal((await queued)["y"], _x(2, 2))

        run(scenario)
        assert model.calls == [1, 2]


async def _until_past(deadline: float) -> None:
    while time.monotonic() <= deadline:
        await asyncio.sleep(deadline - time.monotonic() + 0.001)


def test_a_request_whose_deadline_passed_while_queued_is_never_run(model: Model, batcher: Batcher) -> None:
    async def scenario() -> None:
        first = await _hold_first(model, batcher)
        deadline = time.monotonic() + 0.01
        late = submit(batcher, _x(3, 1), deadline=deadline)
        in_time = submit(batcher, _x(1, 2), deadline=time.monotonic() + 3600)
        await _until_past(deadline)
        model.release()
        await first
        with pytest.raises(DeadlineExceeded, match="while it was queued"):
            await late
        np.testing.assert_array_equal((await in_time)["y"], _x(1, 4))

    run(scenario)
    assert model.calls == [1, 1]  # the late request's three rows never reached the model


def test_a_request_its_caller_gave_up_on_is_never_run(model: Model, batcher: Batcher) -> None:
    async def scenario() -> None:
        first = await _hold_first(model, batcher)
        gone = submit(batcher, _x(1, 1))
        kept = submit(batcher, _x(1, 3))
        gone.cancel()
        model.release()
        await first
        np.testing.assert_array_equal((await kept)["y"], _x(1, 6))

    run(scenario)
    assert model.calls == [1, 1]


def test_outputs_without_rows_are_reported() -> None:
    def scalar(signature: Signature, inputs: Tensors) -> Tensors:
        return {"y": np.asarray(inputs["x"].sum())}

    with _batcher(Model(), scalar, batch_threads=1) as batcher:

        async def scenario() -> None:
            with pytest.raises(InvalidArgument, match="one row per input row"):
                await submit(batcher, _x(2, 1))

        run(scenario)


def test_close_finishes_what_is_queued_then_refuses(model: Model, batcher: Batcher) -> None:
    async def scenario() -> None:
        first = await _hold_first(model, batcher)
        queued = [submit(batcher, _x(1, i)) for i in (1, 2)]
        closing = asyncio.ensure_future(asyncio.to_thread(batcher.close))
        while not batcher._closed:  # close() has begun: the two requests are still queued
            await asyncio.sleep(0.001)
        with pytest.raises(ResourceExhausted, match="shutting down"):
            submit(batcher, _x(1, 3))
        model.release()
        await asyncio.wait_for(closing, PATIENCE)
        await first
        for i, waiter in zip((1, 2), queued, strict=True):
            np.testing.assert_array_equal((await waiter)["y"], _x(1, 2 * i))

    run(scenario)
    assert model.calls == [1, 2]


# -- the inline path ------------------------------------------------------------------------------


def _one_at_a_time(batcher: Batcher, requests: int) -> list[Tensors]:
    """``requests`` requests, each sent when the previous one is answered (nothing queued).

    Each in its own loop iteration, as over a network: an answer goes out and the next request is read.
    """

    async def scenario() -> list[Tensors]:
        results = []
        for i in range(requests):
            results.append(await submit(batcher, _x(1, i)))
            await asyncio.sleep(0)
        return results

    return run(scenario)


def _burst(batcher: Batcher, requests: int) -> list[Tensors]:
    """``requests`` requests submitted in one loop iteration (arriving together)."""

    async def scenario() -> list[Tensors]:
        return list(await asyncio.gather(*(submit(batcher, _x(1, i)) for i in range(requests))))

    return run(scenario)


def test_a_lone_request_to_a_fast_idle_model_runs_on_the_loop_thread(model: Model, batcher: Batcher) -> None:
    assert batcher.small_call_seconds is None
    results = _one_at_a_time(batcher, 3)
    for i, out in enumerate(results):
        np.testing.assert_array_equal(out["y"], _x(1, 2 * i))
    main = threading.current_thread().name
    # the first call is handed off (nothing measured yet); it measures a fast model, the rest run inline
    assert model.threads[0] != main and model.threads[1:] == [main, main]
    assert batcher.small_call_seconds is not None


def test_after_quiet_the_first_of_a_burst_runs_inline_and_the_rest_batch_on_a_worker(
    model: Model, batcher: Batcher
) -> None:
    _one_at_a_time(batcher, 2)  # measured: the model is fast, one request per call
    for i, out in enumerate(_burst(batcher, 4)):
        np.testing.assert_array_equal(out["y"], _x(1, 2 * i))
    main = threading.current_thread().name
    assert model.calls[-2:] == [1, 3]
    assert model.threads[-2] == main and model.threads[-1] != main


def test_after_concurrent_arrivals_lone_requests_go_to_workers_until_it_is_quiet(
    model: Model, batcher: Batcher
) -> None:
    _one_at_a_time(batcher, 2)
    _burst(batcher, 6)
    assert batcher.requests_per_call >= 1.5  # requests arrive together: batches should form
    _one_at_a_time(batcher, 12)
    main = threading.current_thread().name
    assert model.threads[-12] != main  # right after the burst: a worker
    assert model.threads[-1] == main  # one request per call for a while: inline again


def test_requests_arriving_in_pairs_soon_share_calls_again(model: Model, batcher: Batcher) -> None:
    _one_at_a_time(batcher, 2)  # measured: the model is fast, one request per call

    async def pairs() -> None:
        for i in range(8):
            await asyncio.gather(*(submit(batcher, _x(1, i)) for _ in range(2)))

    run(pairs)
    # the first pairs run one by one (the first inline at once, the second after it); counting the
    # second as arrived with the first makes later pairs form one batch of 2 on a worker
    assert model.calls[2:4] == [1, 1]
    assert model.calls[-2:] == [2, 2]


def _slow(model: Model, seconds: float) -> Callable[[Signature, Tensors], Tensors]:
    """``model.predict`` taking at least ``seconds`` per call (a model slower than the inline limit)."""

    def predict(signature: Signature, inputs: Tensors) -> Tensors:
        time.sleep(seconds)
        return model.predict(signature, inputs)

    return predict


@pytest.mark.parametrize(
    ("settings", "call_seconds"),
    [
        ({"inline_micros": 0}, 0.0),  # turned off
        ({"inline_micros": 1000}, 0.002),  # the model's calls take longer than the limit
        ({"batch_timeout_micros": 1}, 0.0),  # the first request is to wait for company
    ],
)
def test_no_inline_when_off_slower_than_the_limit_or_waiting(
    model: Model, settings: dict[str, int], call_seconds: float
) -> None:
    with _batcher(model, _slow(model, call_seconds), batch_threads=1, **settings) as batcher:
        _one_at_a_time(batcher, 3)
        assert batcher.small_call_seconds is not None
    assert len(model.threads) == 3 and threading.current_thread().name not in model.threads


def test_inline_requests_keep_deadlines_and_errors(model: Model) -> None:
    failing = False

    def predict(signature: Signature, inputs: Tensors) -> Tensors:
        if failing:
            raise InvalidArgument("no thanks")
        return model.predict(signature, inputs)

    with _batcher(model, predict, batch_threads=1) as batcher:
        _one_at_a_time(batcher, 2)  # measured: the next lone request runs inline

        async def late() -> None:
            await submit(batcher, _x(1, 0), deadline=time.monotonic() - 1)

        with pytest.raises(DeadlineExceeded):
            run(late)
        failing = True
        with pytest.raises(InvalidArgument, match="no thanks"):
            _one_at_a_time(batcher, 1)
    assert len(model.calls) == 2


# -- helpers and settings -------------------------------------------------------------------------


def test_common_rows_is_the_shared_leading_dimension() -> None:
    assert common_rows({"a": _x(3, 0), "b": np.zeros(3)}) == 3
    assert common_rows({"a": _x(3, 0), "b": np.zeros(2)}) is None
    assert common_rows({"a": np.float32(1)}) is None  # type: ignore[dict-item]


def test_batchable_needs_free_leading_dims() -> None:
    assert batchable(SIG)
    fixed = Signature("f", {"x": TensorSpec("x", dtypes.FLOAT32, (2, 3))}, SIG.outputs)
    assert not batchable(fixed)
    unknown = Signature("u", SIG.inputs, {"y": TensorSpec("y", dtypes.FLOAT32, None)})
    assert not batchable(unknown)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"allowed_batch_sizes": [8, 4]}, "increase"),
        ({"allowed_batch_sizes": [4, 8]}, "end with max_batch_size"),
        ({"enabled": "yes"}, "true or false"),
        ({"speed": 1}, "unknown batching setting"),
        ({"inline_micros": -1}, "inline_micros must be an integer >= 0"),
    ],
)
def test_bad_settings_are_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_batching(table, BatchingSettings())


# -- a prepare step (raw inputs such as encoded images) -------------------------------------------


class Prepared:
    """A prepare step that records its thread and refuses inputs holding a negative value."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def __call__(self, signature: Signature, inputs: Tensors) -> Tensors:
        self.threads.append(threading.current_thread().name)
        if (inputs["x"] < 0).any():
            raise InvalidArgument("a negative value")
        return {"x": inputs["x"] + 1}


def test_a_failed_preparation_fails_only_its_request_and_the_rest_batch(model: Model) -> None:
    prepare = Prepared()
    batcher = Batcher(model.predict, BatchingSettings(max_batch_size=8, batch_threads=1), prepare=prepare)
    try:

        async def scenario() -> list[Tensors | BaseException]:
            first = await _hold_first(model, batcher)
            waiters = [submit(batcher, _x(1, v)) for v in (1, -1, 2, -2, 3)]
            model.release()
            await first
            return list(await asyncio.gather(*waiters, return_exceptions=True))

        results = run(scenario)
    finally:
        model.release()
        batcher.close()
    for value, result in zip((1, -1, 2, -2, 3), results, strict=True):
        if value < 0:
            assert isinstance(result, InvalidArgument) and result.message == "a negative value"
        else:
            assert not isinstance(result, BaseException)
            np.testing.assert_array_equal(result["y"], _x(1, 2 * (value + 1)))
    assert model.calls == [1, 3]  # the three good requests ran as one batch


def test_a_batcher_that_prepares_never_runs_on_the_loop_thread(model: Model) -> None:
    prepare = Prepared()
    with _batcher(model, max_batch_size=8, batch_threads=1) as plain:
        _one_at_a_time(plain, 3)
    main = threading.current_thread().name
    assert main in model.threads  # the same calls without a prepare step do run inline
    model.threads.clear()
    batcher = Batcher(model.predict, BatchingSettings(max_batch_size=8, batch_threads=1), prepare=prepare)
    try:
        results = _one_at_a_time(batcher, 4)
    finally:
        batcher.close()
    for i, out in enumerate(results):
        np.testing.assert_array_equal(out["y"], _x(1, 2 * (i + 1)))
    assert main not in model.threads and main not in prepare.threads

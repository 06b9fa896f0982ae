import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from moorings import dtypes
from moorings.batching.batcher import Batcher, batchable
from moorings.batching.settings import BatchingSettings, parse_batching
from moorings.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted
from moorings.types import Signature, Tensors, TensorSpec

SIG = Signature(
    "s",
    {"x": TensorSpec("x", dtypes.FLOAT32, (-1, -1))},
    {"y": TensorSpec("y", dtypes.FLOAT32, (-1, -1))},
)


class Model:
    """Doubles its input; records the batch sizes it was called with; can be held to let a queue build."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        self.gate.wait(10)
        self.calls.append(inputs["x"].shape[0])
        self.threads.append(threading.current_thread().name)
        return {"y": inputs["x"] * 2}


@pytest.fixture
def model() -> Model:
    return Model()


def _batcher(model: Model, **settings: object) -> Iterator[Batcher]:
    batcher = Batcher(model.predict, BatchingSettings(**settings))  # type: ignore[arg-type]
    yield batcher
    model.gate.set()
    batcher.close()


@pytest.fixture
def batcher(model: Model) -> Iterator[Batcher]:
    yield from _batcher(model, max_batch_size=8, batch_threads=1)


def _x(rows: int, value: float, width: int = 2) -> np.ndarray:
    return np.full((rows, width), value, np.float32)


def test_queued_requests_run_as_one_batch_and_get_their_own_rows(model: Model, batcher: Batcher) -> None:
    model.gate.clear()
    first = batcher.submit(SIG, {"x": _x(1, 0)})
    time.sleep(0.05)  # the worker holds the first request in the model
    futures = [batcher.submit(SIG, {"x": _x(i % 3 + 1, i)}) for i in range(1, 5)]
    model.gate.set()
    np.testing.assert_array_equal(first.result(5)["y"], _x(1, 0))
    for i, future in enumerate(futures, start=1):
        np.testing.assert_array_equal(future.result(5)["y"], _x(i % 3 + 1, 2 * i))
    assert model.calls == [1, 2 + 3 + 1 + 2]


def test_no_wait_when_idle(batcher: Batcher) -> None:
    started = time.perf_counter()
    batcher.submit(SIG, {"x": _x(1, 1)}).result(5)
    assert time.perf_counter() - started < 0.05


def test_deferred_wake_runs_everything_submitted_before_it_as_one_batch(
    model: Model, batcher: Batcher
) -> None:
    time.sleep(0.05)  # the worker is waiting for work
    wakes: list[Callable[[], None]] = []
    futures = [batcher.submit(SIG, {"x": _x(1, i)}, defer_wake=wakes.append) for i in range(5)]
    assert len(wakes) == 1  # one wake-up for the whole burst
    time.sleep(0.05)
    assert model.calls == []  # nobody woke the worker yet
    wakes[0]()
    for i, future in enumerate(futures):
        np.testing.assert_array_equal(future.result(5)["y"], _x(1, 2 * i))
    assert model.calls == [5]
    late = batcher.submit(SIG, {"x": _x(1, 0)}, defer_wake=wakes.append)
    assert len(wakes) == 2  # the next burst schedules its own wake-up
    wakes[1]()
    late.result(5)
    assert model.calls == [5, 1]


def test_async_submissions_of_one_loop_iteration_share_a_batch(model: Model, batcher: Batcher) -> None:
    async def burst() -> list[Tensors]:
        waiters = [batcher.submit_async(SIG, {"x": _x(i % 2 + 1, i)}) for i in range(5)]
        return list(await asyncio.gather(*waiters))

    results = asyncio.run(burst())
    for i, out in enumerate(results):
        np.testing.assert_array_equal(out["y"], _x(i % 2 + 1, 2 * i))
    assert model.calls == [7]  # 1+2+1+2+1 rows, one call


def test_async_errors_and_cancelled_callers(model: Model, batcher: Batcher) -> None:
    async def scenario() -> None:
        model.gate.clear()
        first = batcher.submit_async(SIG, {"x": _x(1, 0)})
        await asyncio.sleep(0.05)  # the worker holds the first request in the model
        gone = batcher.submit_async(SIG, {"x": _x(1, 1)})
        late = batcher.submit_async(SIG, {"x": _x(1, 2)}, deadline=time.monotonic() + 0.01)
        kept = batcher.submit_async(SIG, {"x": _x(1, 3)})
        gone.cancel()
        await asyncio.sleep(0.05)
        model.gate.set()
        np.testing.assert_array_equal((await first)["y"], _x(1, 0))
        with pytest.raises(DeadlineExceeded):
            await late
        np.testing.assert_array_equal((await kept)["y"], _x(1, 6))

    asyncio.run(scenario())
    assert model.calls == [1, 1]  # the cancelled and the expired requests never ran


def _one_at_a_time(batcher: Batcher, requests: int) -> list[Tensors]:
    """``requests`` async requests, each sent when the previous one is answered (nothing queued).

    Each in its own loop iteration, as over a network: an answer goes out and the next request is read.
    """

    async def run() -> list[Tensors]:
        results = []
        for i in range(requests):
            results.append(await batcher.submit_async(SIG, {"x": _x(1, i)}))
            await asyncio.sleep(0)
        return results

    return asyncio.run(run())


def test_a_lone_request_to_a_fast_idle_model_runs_on_the_loop_thread(model: Model, batcher: Batcher) -> None:
    assert batcher.small_call_seconds is None
    results = _one_at_a_time(batcher, 3)
    for i, out in enumerate(results):
        np.testing.assert_array_equal(out["y"], _x(1, 2 * i))
    main = threading.current_thread().name
    # the first call is handed off (nothing measured yet); it measures a fast model, the rest run inline
    assert model.threads[0] != main and model.threads[1:] == [main, main]
    assert batcher.small_call_seconds is not None and batcher.small_call_seconds < 100e-6


def test_after_quiet_the_first_of_a_burst_runs_inline_and_the_rest_batch_on_a_worker(
    model: Model, batcher: Batcher
) -> None:
    _one_at_a_time(batcher, 2)  # measured: the model is fast, one request per call

    async def burst() -> list[Tensors]:
        return list(await asyncio.gather(*(batcher.submit_async(SIG, {"x": _x(1, i)}) for i in range(4))))

    for i, out in enumerate(asyncio.run(burst())):
        np.testing.assert_array_equal(out["y"], _x(1, 2 * i))
    main = threading.current_thread().name
    assert model.calls[-2:] == [1, 3]
    assert model.threads[-2] == main and model.threads[-1] != main


def test_after_concurrent_arrivals_lone_requests_go_to_workers_until_it_is_quiet(
    model: Model, batcher: Batcher
) -> None:
    _one_at_a_time(batcher, 2)

    async def burst() -> list[Tensors]:
        return list(await asyncio.gather(*(batcher.submit_async(SIG, {"x": _x(1, i)}) for i in range(6))))

    asyncio.run(burst())
    assert batcher.requests_per_call >= 1.5  # requests arrive together: batches should form
    _one_at_a_time(batcher, 12)
    main = threading.current_thread().name
    assert model.threads[-12] != main  # right after the burst: a worker
    assert model.threads[-1] == main  # one request per call for a while: inline again


def test_requests_arriving_in_pairs_soon_share_calls_again(model: Model, batcher: Batcher) -> None:
    _one_at_a_time(batcher, 2)  # measured: the model is fast, one request per call

    async def pairs() -> None:
        for i in range(8):
            await asyncio.gather(*(batcher.submit_async(SIG, {"x": _x(1, i)}) for _ in range(2)))

    asyncio.run(pairs())
    # the first pairs run one by one (the first inline at once, the second after it); counting the
    # second as arrived with the first makes later pairs form one batch of 2 on a worker
    assert model.calls[2:4] == [1, 1]
    assert model.calls[-2:] == [2, 2]


@pytest.mark.parametrize(
    ("settings", "call_seconds"),
    [
        ({"inline_micros": 0}, 0.0),  # turned off
        ({"inline_micros": 1}, 0.001),  # the model's calls take longer than the limit
        ({"batch_timeout_micros": 1000}, 0.0),  # the first request is to wait for company
    ],
)
def test_no_inline_when_off_slower_than_the_limit_or_waiting(
    model: Model, settings: dict[str, int], call_seconds: float
) -> None:
    gen = _batcher(model, batch_threads=1, **settings)
    batcher = next(gen)
    fast = model.predict

    def predict(signature: Signature, inputs: Tensors) -> Tensors:
        time.sleep(call_seconds)
        return fast(signature, inputs)

    batcher._predict = predict
    _one_at_a_time(batcher, 3)
    assert batcher.small_call_seconds is not None
    assert threading.current_thread().name not in model.threads
    gen.close()


def test_inline_requests_keep_deadlines_and_errors(model: Model, batcher: Batcher) -> None:
    _one_at_a_time(batcher, 2)

    async def late() -> None:
        await batcher.submit_async(SIG, {"x": _x(1, 0)}, deadline=time.monotonic() - 1)

    with pytest.raises(DeadlineExceeded):
        asyncio.run(late())

    def broken(signature: Signature, inputs: Tensors) -> Tensors:
        raise InvalidArgument("no thanks")

    batcher._predict = broken
    with pytest.raises(InvalidArgument, match="no thanks"):
        _one_at_a_time(batcher, 1)
    assert len(model.calls) == 2


def test_timeout_waits_for_more(model: Model) -> None:
    for batcher in _batcher(model, max_batch_size=4, batch_timeout_micros=200_000, batch_threads=1):
        futures = [batcher.submit(SIG, {"x": _x(1, i)}) for i in range(4)]
        for f in futures:
            f.result(5)
        assert model.calls == [4]


def test_different_trailing_shapes_are_not_mixed(model: Model, batcher: Batcher) -> None:
    model.gate.clear()
    batcher.submit(SIG, {"x": _x(1, 0)})
    time.sleep(0.05)
    narrow = [batcher.submit(SIG, {"x": _x(1, 1, width=2)}) for _ in range(2)]
    wide = [batcher.submit(SIG, {"x": _x(1, 1, width=3)}) for _ in range(2)]
    model.gate.set()
    assert all(f.result(5)["y"].shape == (1, 2) for f in narrow)
    assert all(f.result(5)["y"].shape == (1, 3) for f in wide)
    assert sorted(model.calls) == [1, 2, 2]


def test_full_queue_refuses_at_once(model: Model) -> None:
    for batcher in _batcher(model, max_batch_size=2, max_enqueued_batches=1, batch_threads=1):
        model.gate.clear()
        batcher.submit(SIG, {"x": _x(1, 0)})
        time.sleep(0.05)
        batcher.submit(SIG, {"x": _x(2, 0)})
        with pytest.raises(ResourceExhausted, match="queue is full"):
            batcher.submit(SIG, {"x": _x(1, 0)})


def test_expired_requests_are_never_run(model: Model, batcher: Batcher) -> None:
    model.gate.clear()
    batcher.submit(SIG, {"x": _x(1, 0)})
    time.sleep(0.05)
    late = batcher.submit(SIG, {"x": _x(3, 0)}, deadline=time.monotonic() + 0.01)
    time.sleep(0.05)
    model.gate.set()
    with pytest.raises(DeadlineExceeded):
        late.result(5)
    assert model.calls == [1]


def test_padding_to_allowed_sizes(model: Model) -> None:
    for batcher in _batcher(model, max_batch_size=8, allowed_batch_sizes=(4, 8), batch_threads=1):
        out = batcher.submit(SIG, {"x": _x(3, 1)}).result(5)
        assert out["y"].shape == (3, 2)
        out = batcher.submit(SIG, {"x": _x(5, 1)}).result(5)
        assert out["y"].shape == (5, 2)
        assert model.calls == [4, 8]


def test_large_request_runs_in_chunks(model: Model, batcher: Batcher) -> None:
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    np.testing.assert_array_equal(batcher.submit(SIG, {"x": x}).result(5)["y"], x * 2)
    assert model.calls == [8, 8, 4]


def test_outputs_without_rows_are_reported() -> None:
    def scalar(signature: Signature, inputs: Tensors) -> Tensors:
        return {"y": np.float32(inputs["x"].sum())}  # type: ignore[dict-item]

    batcher = Batcher(lambda s, i: {"y": np.asarray(scalar(s, i)["y"])}, BatchingSettings(batch_threads=1))
    try:
        with pytest.raises(InvalidArgument, match="one row per input row"):
            batcher.submit(SIG, {"x": _x(2, 1)}).result(5)
    finally:
        batcher.close()


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

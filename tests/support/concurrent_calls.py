"""Run a runtime's calls from several threads at once and check each got its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np


def assert_concurrent_answers(
    runtime: Any,
    signature: Any,
    calls: Sequence[dict[str, np.ndarray]],
    want: Sequence[dict[str, np.ndarray]],
    threads: int,
) -> None:
    """``runtime.predict(signature, call)`` for every call, spread over ``threads`` threads that
    start together; each answer must equal ``want`` at the same position, bit for bit."""
    got: list[dict[str, np.ndarray] | None] = [None] * len(calls)
    start = threading.Barrier(threads)

    def worker(first: int) -> None:
        start.wait()
        for i in range(first, len(calls), threads):
            got[i] = runtime.predict(signature, calls[i])

    running = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    for expected, answer in zip(want, got, strict=True):
        assert answer is not None
        for name in expected:
            np.testing.assert_array_equal(answer[name], expected[name])

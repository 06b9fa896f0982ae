"""Put on a benchmarked Moorings server's PYTHONPATH by ``model_time.py``: times every model call.

Wraps ``Batcher._run_padded`` (one call of the model on one batch, padding included) and, on
SIGUSR1, writes the totals so far (calls, rows, thread CPU seconds inside the calls) as
JSON to the file named by ``$MOORINGS_MODEL_TIMES``. Never loaded by the server otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

from moorings.batching import batcher

_totals = {"calls": 0, "rows": 0, "cpu_s": 0.0}
_lock = threading.Lock()
_run_padded = batcher.Batcher._run_padded


def _timed(self: batcher.Batcher, signature: Any, inputs: Any, rows: int) -> Any:
    start = time.thread_time()
    try:
        return _run_padded(self, signature, inputs, rows)
    finally:
        cpu = time.thread_time() - start
        with _lock:
            _totals["calls"] += 1
            _totals["rows"] += rows
            _totals["cpu_s"] += cpu


def _dump(signum: int, frame: object) -> None:
    path = os.environ["MOORINGS_MODEL_TIMES"]
    with _lock:
        text = json.dumps(_totals)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


if os.environ.get("MOORINGS_MODEL_TIMES"):
    batcher.Batcher._run_padded = _timed  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, _dump)

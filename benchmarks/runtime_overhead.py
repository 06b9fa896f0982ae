"""Per-call cost of the TFLite and torch.export runtimes against the framework called directly.

    .venv/bin/python benchmarks/runtime_overhead.py [--calls 2000] [--rounds 3]

In one process, for each runtime and batch size: ``Runtime.predict`` (what a batch
thread calls) and the framework's own call on the same inputs (LiteRT's signature
runner; the torch module under ``inference_mode``), alternated round by round. Times
are the calling thread's CPU time (``time.thread_time``) per call, medians over rounds,
so other load on the machine moves them less than wall time would. One intra-op
thread each. Models: the ``two_heads`` TFLite fixture and the test's TwoHeads module.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from moorings.config import RuntimeOptions  # noqa: E402
from moorings.runtimes.tflite import TfliteRuntime  # noqa: E402
from moorings.runtimes.torch_export import TorchExportRuntime  # noqa: E402

FIXTURE = HERE.parent / "tests" / "fixtures" / "tflite" / "two_heads.tflite"


def per_call_us(call: Callable[[], object], calls: int) -> float:
    for _ in range(min(50, calls)):
        call()
    started = time.thread_time()
    for _ in range(calls):
        call()
    return (time.thread_time() - started) / calls * 1e6


def feeds(rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rows)
    return {
        "features": rng.normal(size=(rows, 4)).astype(np.float32),
        "ids": rng.integers(0, 10, size=(rows, 3)).astype(np.int32),
    }


def tflite_pair(folder: Path, rows: int) -> tuple[Callable[[], object], Callable[[], object]]:
    from ai_edge_litert.interpreter import Interpreter

    (folder / "model.tflite").write_bytes(FIXTURE.read_bytes())
    runtime = TfliteRuntime(folder, RuntimeOptions(intra_op_threads=1))
    runtime.load()
    signature = runtime.signatures["serving_default"]
    x = feeds(rows)
    runner = Interpreter(model_path=str(FIXTURE), num_threads=1).get_signature_runner()
    return (lambda: runtime.predict(signature, x)), (lambda: runner(**x))


def torch_pair(folder: Path, rows: int) -> tuple[Callable[[], object], Callable[[], object]]:
    import torch
    from tests.support import torch_models

    torch.set_num_threads(1)
    module = torch_models.two_heads(seed=1)
    x = feeds(rows)
    x["x"] = x.pop("features")
    x["ids"] = x["ids"].astype(np.int64)
    torch_models.export(module, (torch.zeros(2, 4), torch.zeros(2, 3, dtype=torch.int64)), folder)
    runtime = TorchExportRuntime(folder, RuntimeOptions(allow_unsafe_pickle=True, intra_op_threads=1))
    runtime.load()
    signature = runtime.signatures["serving_default"]
    program = runtime._module
    tensors = (torch.from_numpy(x["x"]), torch.from_numpy(x["ids"]))

    def direct() -> object:
        with torch.inference_mode():
            return program(*tensors)

    return (lambda: runtime.predict(signature, x)), direct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("| runtime | rows | served µs/call | direct µs/call | served - direct |")
    print("|---|---|---|---|---|")
    for name, pair in (("tflite", tflite_pair), ("torch", torch_pair)):
        for rows in (1, 32):
            with tempfile.TemporaryDirectory() as tmp:
                served, direct = pair(Path(tmp), rows)
                s, d = [], []
                for _ in range(args.rounds):
                    s.append(per_call_us(served, args.calls))
                    d.append(per_call_us(direct, args.calls))
                ms, md = statistics.median(s), statistics.median(d)
                print(f"| {name} | {rows} | {ms:.1f} | {md:.1f} | {ms - md:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

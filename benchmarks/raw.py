"""Raw in-process throughput of a runtime, no server: the physical limit for a model on this core.

    taskset -c 0 .venv/bin/python benchmarks/raw.py onnx benchmarks/.work/repos/mlp/mlp/1 --sizes 1,8,64
Prints one JSON line: rows/s per batch size and the best.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Run = Callable[[np.ndarray], object]


def onnx_runner(folder: Path, threads: int) -> tuple[Run, tuple[int, ...]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    shape = tuple(int(d) for d in first.shape[1:])
    return (lambda x: session.run(None, {first.name: x})), shape


def tf_runner(folder: Path, threads: int) -> tuple[Run, tuple[int, ...]]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = tf.saved_model.load(str(folder))
    fn = model.signatures["serving_default"]
    spec = next(iter(fn.structured_input_signature[1].values()))
    name = next(iter(fn.structured_input_signature[1]))
    shape = tuple(int(d) for d in spec.shape[1:])
    return (lambda x: fn(**{name: tf.constant(x)})), shape


def measure(run: Run, x: np.ndarray, seconds: float) -> float:
    for _ in range(3):
        run(x)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        run(x)
        calls += 1
    return calls * x.shape[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runtime", choices=["onnx", "tensorflow"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--sizes", default="1,8,16,32,64,128")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    make = onnx_runner if args.runtime == "onnx" else tf_runner
    run, shape = make(args.folder, args.threads)
    rng = np.random.default_rng(0)
    result = {}
    for size in (int(s) for s in args.sizes.split(",")):
        x = rng.random((size, *shape), dtype=np.float32)
        result[size] = measure(run, x, args.seconds)
    best = max(result, key=lambda k: result[k])
    print(json.dumps({"rows_per_s": result, "best_batch": best, "best_rows_per_s": result[best]}))


if __name__ == "__main__":
    main()

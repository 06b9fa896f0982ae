"""First-request latency of the digits SavedModel with and without a TF Serving warm-up file.

    .venv/bin/python benchmarks/warmup_latency.py --runs 3

For each run and variant (their order alternating between runs), a fresh ``moorings serve`` is
started on a repository holding only ``digits-keras/1`` (examples/digits/build_repository.py),
waited on until ``/v2/health/ready`` is 200, and sent one :predict of one row, then a second
one; both are timed by the client.
The "warm-up" variant adds ``assets.extra/tf_serving_warmup_requests``: one PredictionLog of
that same request, written as TFRecord by TensorFlow's ``tf.io.TFRecordWriter``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.digits.build_repository import load_data, write_keras  # noqa: E402
from tests.support.server import running_server  # noqa: E402

BODY = {"instances": [[8.0] * 64]}


def write_warmup_file(folder: Path) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits-keras"
    request.inputs["pixels"].CopyFrom(tf.make_tensor_proto(np.full((1, 64), 8.0, np.float32)))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    (folder / "assets.extra").mkdir()
    with tf.io.TFRecordWriter(str(folder / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        writer.write(log.SerializeToString())


def first_requests(model: Path, warm: bool, work: Path) -> tuple[float, float]:
    """(first, second) request latency in ms against a fresh server."""
    repo = work / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(model, repo / "digits-keras" / "1")
    if warm:
        write_warmup_file(repo / "digits-keras" / "1")
    with running_server(repo, "--poll-seconds", "30") as server, httpx.Client(base_url=server.url) as client:
        client.get("/v2/health/live")  # the connection is open before the timed requests
        times = []
        for _ in range(2):
            started = time.perf_counter()
            answer = client.post("/v1/models/digits-keras:predict", json=BODY)
            times.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
        if warm:
            assert "warmed up digits-keras version 1 with 1 request(s)" in server.log()
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        x, y = load_data()
        write_keras(x, y, work / "model")
        results: dict[str, list[tuple[float, float]]] = {"no warm-up": [], "warm-up": []}
        variants = [("no warm-up", False), ("warm-up", True)]
        for run in range(args.runs):  # the order alternates: the first start of all pays cold caches
            for name, warm in variants if run % 2 == 0 else variants[::-1]:
                results[name].append(first_requests(work / "model", warm, work))
    print(f"{'variant':<12} {'first request ms (median, runs)':<40} second request ms (median)")
    for name, pairs in results.items():
        firsts = [f for f, _ in pairs]
        seconds = [s for _, s in pairs]
        runs = ", ".join(f"{f:.1f}" for f in firsts)
        print(
            f"{name:<12} {statistics.median(firsts):>7.1f} ({runs}){'':<8} {statistics.median(seconds):.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

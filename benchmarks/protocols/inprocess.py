"""What the gRPC handlers themselves cost, without grpcio: parse, handler, dataplane, model, serialize.

    python benchmarks/protocols/inprocess.py [--cpu 0]

Calls KServeService.ModelInfer and PredictionService.Predict directly on one
core, with the same messages as run.py, at concurrency 1 and 32 (batching on),
and prints the CPU time per request. Compare with run.py's server CPU per
request and grpc_floor.py to see where a gRPC request's time goes. The context
object only answers ``time_remaining()`` (no deadline); errors fail the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.models import mlp  # noqa: E402
from benchmarks.protocols import clients  # noqa: E402


class NoDeadline:
    """The two things the handlers ask of a grpc.aio context."""

    def time_remaining(self) -> None:
        return None

    async def abort(self, code: Any, message: str) -> None:
        raise RuntimeError(f"{code}: {message}")


async def timed(name: str, one: Callable[[], Awaitable[None]]) -> None:
    for concurrency, total in ((1, 3000), (32, 6400)):
        for _ in range(200):
            await one()
        cpu, wall = time.process_time(), time.perf_counter()

        async def worker(count: int) -> None:
            for _ in range(count):
                await one()

        await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
        per = (time.process_time() - cpu) / total * 1e6
        rate = total / (time.perf_counter() - wall)
        print(f"{name:15s} c={concurrency:<3d} {per:5.0f} us CPU/req  {rate:6.0f} req/s")


async def main(repo: Path) -> None:
    from tensorflow_serving.apis import predict_pb2
    from tritonclient.grpc import service_pb2

    from moorings.core.loader import Loader
    from moorings.core.manager import Manager
    from moorings.dataplane import DataPlane
    from moorings.grpc.kserve import KServeService
    from moorings.grpc.tfserving import PredictionService
    from moorings.repository.source import LocalSource

    manager = Manager(LocalSource(repo), Loader(repo))
    manager.poll_once()
    manager.wait_until_idle(60)
    dataplane = DataPlane(manager, 2)
    context = NoDeadline()
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    kserve, tfserving = KServeService(dataplane), PredictionService(dataplane)
    infer_raw = clients.kserve_infer_message("mlp", x)
    predict_raw = clients.tfserving_predict_message("mlp", x)

    async def infer() -> None:
        response = await kserve.ModelInfer(service_pb2.ModelInferRequest.FromString(infer_raw), context)
        response.SerializeToString()

    async def predict() -> None:
        response = await tfserving.Predict(predict_pb2.PredictRequest.FromString(predict_raw), context)
        response.SerializeToString()

    try:
        await timed("grpc-kserve", infer)
        await timed("grpc-tfserving", predict)
    finally:
        manager.stop()
        dataplane.close()


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu", default="0")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        mlp.write_onnx(repo / "mlp" / "1")
        uvloop.run(main(repo))


if __name__ == "__main__":
    run()

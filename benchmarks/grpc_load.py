"""A closed-loop gRPC load generator for KServe V2 ModelInfer with ``raw_input_contents``.

    taskset -c 1 .venv/bin/python benchmarks/grpc_load.py PORT MODEL INPUT ROWSxCOLS -c 32 -d 5

Prints one JSON line shaped like the wrk script's (requests, duration_us, p50_us, p99_us, errors).
It is Python, so on one core it may be the bottleneck before the server is: read the server's CPU
per request (measured from /proc by the runner), which does not depend on how hard it is pushed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc


def request(model: str, name: str, shape: tuple[int, ...]) -> service_pb2.ModelInferRequest:
    rng = np.random.default_rng(1)
    data = rng.random(shape, dtype=np.float32)
    message = service_pb2.ModelInferRequest(model_name=model)
    tensor = message.inputs.add()
    tensor.name, tensor.datatype = name, "FP32"
    tensor.shape.extend(shape)
    message.raw_input_contents.append(data.astype("<f4").tobytes())
    return message


async def run(
    port: int, message: service_pb2.ModelInferRequest, concurrency: int, seconds: float
) -> dict[str, int]:
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(message)
        stop = time.monotonic() + seconds
        start = time.monotonic()

        async def client() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    await stub.ModelInfer(message)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        duration = time.monotonic() - start
    return summary(np.array(latencies) * 1e6, int(duration * 1e6), errors)


def summary(latencies_us: np.ndarray, duration_us: int, errors: int) -> dict[str, int]:
    """A run's result, shaped like the wrk script's JSON line."""

    def percentile(q: int) -> int:
        return int(np.percentile(latencies_us, q)) if len(latencies_us) else 0

    return {
        "requests": len(latencies_us),
        "duration_us": duration_us,
        "p50_us": percentile(50),
        "p90_us": percentile(90),
        "p99_us": percentile(99),
        "connect_errors": 0,
        "read_errors": 0,
        "write_errors": 0,
        "status_errors": errors,
        "timeouts": 0,
    }


def arguments() -> argparse.Namespace:
    """PORT MODEL INPUT ROWSxCOLS [-c CONCURRENCY] [-d SECONDS], with ``message`` built from them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("shape", help="e.g. 1x784")
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("-d", "--seconds", type=float, default=5)
    args = parser.parse_args()
    args.message = request(args.model, args.input, tuple(int(d) for d in args.shape.split("x")))
    return args


def main() -> None:
    args = arguments()
    message = args.message
    print(json.dumps(asyncio.run(run(args.port, message, args.concurrency, args.seconds))))


if __name__ == "__main__":
    main()

"""Overload over gRPC (KServe V2 ModelInfer): three times the sustained rate, and only OK,
RESOURCE_EXHAUSTED or UNAVAILABLE, on both gRPC front ends.

As ``test_overload.py`` for REST: the rate the server sustains is measured first in the same run
(8 concurrent calls for 2 s on a 5 ms model run one call at a time), then three times that is
sent on schedule over one channel (5 s short, 30 s full), beside 20 ``ServerLive`` calls a second
as the machine's baseline. The refused calls must be refused fast: p99 under 10 ms (short run:
50 ms or three times the baseline's p99, whichever is larger), and the server's memory must stay flat.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from benchmarks.openloop import Report, percentile, run_open_loop_grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.e2e.test_batching_queue import WIDTH, write_slow_model
from tests.reliability.scale import pick, refusal_bound
from tests.support.procstat import sample
from tests.support.server import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

SERIAL = ("--max-batch-size", "1", "--batch-threads", "1")
RSS_GROWTH_MIB = 16.0


def _request() -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="slow")
    request.inputs.add(name="x", datatype="FP32", shape=[1, WIDTH])
    request.raw_input_contents.append(np.full((1, WIDTH), 0.5, np.float32).tobytes())
    return request


async def _load(target: str, seconds: float, pid: int) -> tuple[float, Report, Report, list[float]]:
    request = _request()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)

        async def infer(timeout: float) -> str:
            try:
                await stub.ModelInfer(request, timeout=timeout)
                return "OK"
            except grpc.aio.AioRpcError as exc:
                return str(exc.code().name)

        async def live(timeout: float) -> str:
            try:
                await stub.ServerLive(service_pb2.ServerLiveRequest(), timeout=timeout)
                return "OK"
            except grpc.aio.AioRpcError as exc:
                return str(exc.code().name)

        await infer(30)
        answered = 0
        started = time.monotonic()

        async def client() -> None:
            nonlocal answered
            while time.monotonic() - started < 2.0:
                assert await infer(30) == "OK"
                answered += 1

        await asyncio.gather(*(client() for _ in range(8)))
        rate = answered / (time.monotonic() - started)
        rss: list[float] = []

        async def sampler() -> None:
            while True:
                rss.append(sample(pid).rss_mib)
                await asyncio.sleep(0.1)

        sampling = asyncio.create_task(sampler())
        report, baseline = await asyncio.gather(
            run_open_loop_grpc(infer, 3 * rate, seconds, timeout=60),
            run_open_loop_grpc(live, 20, seconds),
        )
        sampling.cancel()
        return rate, report, baseline, rss


@pytest.mark.parametrize("front_end", ["grpcio", "moorings"])
def test_three_times_the_sustainable_rate_over_grpc(tmp_path: Path, front_end: str) -> None:
    seconds = pick(5, 30)
    write_slow_model(tmp_path / "repo" / "slow" / "1", layers=500)
    with running_server(tmp_path / "repo", *SERIAL, "--grpc-server", front_end) as server:
        rate, report, baseline, rss = asyncio.run(_load(server.grpc_target, seconds, server.process.pid))
        assert server.process.poll() is None
        with grpc.insecure_channel(server.grpc_target) as channel:
            service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(_request(), timeout=30)

    summary = report.summary()
    refused = [o.latency - o.late for o in report.outcomes if o.status in (429, 503)]
    refused_p99 = percentile(refused, 99)
    baseline_p99 = percentile([o.latency - o.late for o in baseline.outcomes], 99)
    bound = refusal_bound(baseline_p99)
    print(f"overload gRPC ({front_end}): sustained {rate:.0f} calls/s; offered {3 * rate:.0f}:", summary)
    print(
        f"refused p99 {refused_p99 * 1000:.2f} ms, p50 {percentile(refused, 50) * 1000:.2f} ms; "
        f"ServerLive p99 {baseline_p99 * 1000:.2f} ms; rss {rss[0]:.1f} -> {rss[-1]:.1f} MiB"
    )
    assert report.failed == [], summary
    assert baseline.failed == [], baseline.summary()
    assert refused, f"nothing was refused at three times the sustainable rate: {summary}"
    assert report.statuses().get(200, 0) > 0
    assert refused_p99 < bound, f"p99 of the refused calls {refused_p99 * 1000:.1f} ms"
    settled = rss[len(rss) // 4 :]
    assert max(settled) - settled[0] < RSS_GROWTH_MIB, (
        f"RSS grew from {settled[0]:.1f} to {max(settled):.1f} MiB"
    )

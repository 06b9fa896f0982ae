"""SIGTERM with 100 REST requests and 100 gRPC calls in flight: every one answered, probes see 503.

The model takes milliseconds a call and runs one call at a time, so the 200 requests queue in
the server; SIGTERM comes when the first gRPC answer has arrived. With ``--drain-delay-seconds``
the listeners answer as before (readiness 503) for the delay, then the drain lets everything
under way finish. Readiness probes on new connections must see 503 from the signal until the
listeners close (connection refused after that is the point: the pod is out of the endpoints).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from benchmarks.openloop import run_open_loop
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.e2e.test_batching_queue import WIDTH, write_slow_model
from tests.reliability.helpers import LoadThread, wait_for
from tests.support.server import raw_http, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

IN_FLIGHT = 100
DELAY = 0.5  # --drain-delay-seconds: the work queued must outlast it, so the drain proper is tested
PROBE = b"GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
ARGS = (
    "--max-batch-size", "1", "--batch-threads", "1", "--max-enqueued-batches", "1000",
    "--drain-delay-seconds", str(DELAY), "--drain-seconds", "60",
)  # fmt: skip


def _grpc_request() -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="slow")
    request.inputs.add(name="x", datatype="FP32", shape=[1, WIDTH])
    request.raw_input_contents.append(np.full((1, WIDTH), 0.5, np.float32).tobytes())
    return request


def _probe(port: int) -> int | str:
    """``/v2/health/ready`` on a new connection, as a kubelet probes: its status, or the error's name."""
    try:
        return raw_http(port, PROBE, timeout=5)[0]
    except (OSError, IndexError, ValueError) as exc:  # refused, reset, or closed without an answer
        return type(exc).__name__


def test_sigterm_with_200_requests_in_flight(tmp_path: Path) -> None:
    write_slow_model(tmp_path / "repo" / "slow" / "1", layers=1000)
    body = json.dumps({"instances": [[0.5] * WIDTH]}).encode()
    with running_server(tmp_path / "repo", *ARGS) as server:
        channel = grpc.insecure_channel(server.grpc_target)
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        stub.ModelInfer(_grpc_request(), timeout=30)  # the channel is connected
        rest = LoadThread(
            lambda: run_open_loop(
                f"{server.url}/v1/models/slow:predict", 2000, IN_FLIGHT / 2000, body=body, timeout=120
            )
        )
        rest.start()
        calls = [stub.ModelInfer.future(_grpc_request(), timeout=120) for _ in range(IN_FLIGHT)]
        grpc_done: list[float] = []
        for call in calls:
            call.add_done_callback(lambda _: grpc_done.append(time.monotonic()))
        wait_for(lambda: any(c.done() for c in calls), 30, "a first gRPC answer")
        wait_for(lambda: rest.elapsed() > 0.3, 10, "the REST requests sent")
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        pending = sum(not c.done() for c in calls)
        probes: list[tuple[float, int | str]] = []
        while server.process.poll() is None:
            probes.append((time.monotonic() - signalled, _probe(server.rest_port)))
            time.sleep(0.02)
        exit_code = server.process.wait(60)
        report = rest.result(120)
        codes = []
        for call in calls:
            try:
                call.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
        channel.close()

    summary = report.summary()
    print(f"sigterm: {pending} gRPC calls pending at the signal; REST {summary}")
    print(
        "probes:",
        [(round(t, 2), p) for t, p in probes[:3]],
        "...",
        [(round(t, 2), p) for t, p in probes[-3:]],
    )
    assert pending > IN_FLIGHT / 2, "the calls finished before the signal: nothing was in flight"
    sent_at = [rest.started_at + o.due + o.late for o in report.outcomes]
    answered_at = [rest.started_at + o.due + o.latency for o in report.outcomes]
    assert max(sent_at) < signalled, "a REST request left after the signal"
    assert sum(t > signalled for t in answered_at) > IN_FLIGHT / 2, "REST requests finished before the signal"
    closed = signalled + DELAY  # the listeners close, the drain starts
    drained = sum(t > closed for t in answered_at), sum(t > closed for t in grpc_done)
    print(f"answered after the listeners closed: {drained[0]} REST, {drained[1]} gRPC")
    assert min(drained) > 0, "nothing was left for the drain proper"
    assert exit_code == 0
    assert report.failed == [], summary
    assert report.statuses() == {200: IN_FLIGHT}, summary
    assert codes == [grpc.StatusCode.OK] * IN_FLIGHT, {c: codes.count(c) for c in set(codes)}
    # probes: 503 once the signal has been handled (within 0.1 s), until the listeners close
    answered = [p for t, p in probes if t > 0.1 and isinstance(p, int)]
    assert len(answered) >= 3 and set(answered) == {503}, probes
    assert [p for t, p in probes if not isinstance(p, int)], "the listeners never closed"
    served_then_closed = [isinstance(p, int) for _, p in probes]
    assert served_then_closed == sorted(served_then_closed, reverse=True), probes

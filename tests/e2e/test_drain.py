"""SIGTERM drains gRPC calls under way for ``--drain-seconds``, the same grace as REST, on both front ends.

Issue 20 #11: with 50 calls in flight to a slow model the gRPC drain was 5 s (19 OK, 31
UNAVAILABLE) where REST's was 30 s. The model here is a chain of MatMuls run one call at a
time. SIGTERM comes as soon as the first call is answered: grpcio has then taken up only a
few of the calls it received, and its ``stop(grace)`` cancels the others unless the server
waits for it to take them up (``moorings.grpc.drain``).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.e2e.test_batching_queue import WIDTH, write_slow_model
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

CALLS = 50
ROWS = 16  # one call fills one batch
SERIAL = ("--max-batch-size", str(ROWS), "--batch-threads", "1", "--inference-threads", "1")


def _request() -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="slow")
    request.inputs.add(name="x", datatype="FP32", shape=[ROWS, WIDTH])
    request.raw_input_contents.append(np.full((ROWS, WIDTH), 0.5, np.float32).tobytes())
    return request


def _in_flight(target: str, count: int = CALLS) -> tuple[grpc.Channel, list[grpc.Future]]:
    """``count`` calls sent; returns once the first has been answered (the rest are under way)."""
    channel = grpc.insecure_channel(target)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = _request()
    calls = [stub.ModelInfer.future(request, timeout=60) for _ in range(count)]
    deadline = time.monotonic() + 30
    while not any(call.done() for call in calls):
        assert time.monotonic() < deadline, "no call answered"
        time.sleep(0.01)
    return channel, calls


def _codes(calls: list[grpc.Future]) -> list[grpc.StatusCode]:
    codes = []
    for call in calls:
        try:
            call.result()
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as exc:
            codes.append(exc.code())
    return codes


def _calls_for(target: str, seconds: float) -> int:
    """How many calls keep this machine's server busy for ``seconds``, timed on a few serial calls.

    A fixed count is not enough: a machine with many cores runs the chain of MatMuls several
    times faster, and fifty calls then finish inside a one-second drain.
    """
    with grpc.insecure_channel(target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = _request()
        stub.ModelInfer(request, timeout=60)
        started = time.monotonic()
        for _ in range(3):
            stub.ModelInfer(request, timeout=60)
        each = (time.monotonic() - started) / 3
    return max(CALLS, min(2000, int(seconds / each) + 1))


@pytest.fixture(scope="module")
def slow_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drain")
    write_slow_model(root / "repo" / "slow" / "1", layers=500)
    return root / "repo"


@pytest.mark.parametrize("front_end", ["grpcio", "moorings"])
def test_sigterm_lets_every_call_in_flight_finish(slow_repo: Path, front_end: str) -> None:
    with running_server(slow_repo, *SERIAL, "--grpc-server", front_end, "--drain-seconds", "30") as server:
        channel, calls = _in_flight(server.grpc_target)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        codes = _codes(calls)
        drained = time.monotonic() - started
        channel.close()
        assert server.process.wait(30) == 0
    assert codes == [grpc.StatusCode.OK] * CALLS, f"{codes.count(grpc.StatusCode.OK)} OK in {drained:.1f} s"


@pytest.mark.parametrize("front_end", ["grpcio", "moorings"])
def test_the_drain_ends_at_its_grace(slow_repo: Path, front_end: str) -> None:
    with running_server(slow_repo, *SERIAL, "--grpc-server", front_end, "--drain-seconds", "1") as server:
        channel, calls = _in_flight(server.grpc_target, _calls_for(server.grpc_target, 4.0))
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        codes = _codes(calls)
        server.process.wait(30)
        stopped = time.monotonic() - started
        channel.close()
    assert grpc.StatusCode.OK in codes and set(codes) != {grpc.StatusCode.OK}
    assert stopped < 4.5, f"stopped after {stopped:.1f} s with a 1 s drain"

"""/metrics from a real server: requests by model, version, protocol, kind and code; latency,
queue, batch and lifecycle figures; request ids and the JSON access log on REST and gRPC."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.observe.helpers import scrape, value
from tests.support import onnx_models
from tests.support.server import RunningServer, free_port, running_server

pytestmark = pytest.mark.e2e

ROWS = {"instances": [[1.0, 2.0, 3.0, 4.0]]}
MLP = {"model": "mlp", "version": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("observe")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1")
    metrics_port = free_port()
    args = ("--log-format", "json", "--metrics-port", str(metrics_port), "--data-dir", str(root / "data"))
    with running_server(root / "repo", *args) as running:
        running.metrics_port = metrics_port  # type: ignore[attr-defined]
        yield running


def _infer(model: str) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[1, 4])
    tensor.contents.fp32_contents.extend([1.0, 2.0, 3.0, 4.0])
    return request


def _access_lines(server: RunningServer) -> list[dict[str, object]]:
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "moorings.access":
                lines.append(entry)
    return lines


def test_requests_are_counted_by_model_protocol_kind_and_code(server: RunningServer) -> None:
    before = scrape(f"{server.url}/metrics")
    for _ in range(3):
        assert httpx.post(f"{server.url}/v1/models/mlp:predict", json=ROWS).status_code == 200
    assert httpx.post(f"{server.url}/v1/models/mlp:predict", content=b"{not json").status_code == 400
    assert httpx.post(f"{server.url}/v1/models/nope:predict", json=ROWS).status_code == 404
    assert httpx.get(f"{server.url}/v1/models/mlp/metadata").status_code == 200
    v2 = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}
    assert httpx.post(f"{server.url}/v2/models/mlp/infer", json=v2).status_code == 200
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(2):
            stub.ModelInfer(_infer("mlp"), timeout=10)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(_infer("nope"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    after = scrape(f"{server.url}/metrics")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "moorings_requests_total"
    assert delta(total, **MLP, protocol="tfserving_rest", kind="predict", code="200") == 3
    # a body that does not parse never reaches a model version: no model label
    assert delta(total, model="", version="", protocol="tfserving_rest", kind="predict", code="400") == 1
    # an unknown model is not a label value: clients cannot grow the label sets
    assert delta(total, model="", protocol="tfserving_rest", kind="predict", code="404") == 1
    assert value(after, total, model="nope") == 0
    assert delta(total, **MLP, protocol="tfserving_rest", kind="metadata", code="200") == 1
    assert delta(total, **MLP, protocol="v2_rest", kind="predict", code="200") == 1
    assert delta(total, **MLP, protocol="v2_grpc", kind="predict", code="OK") == 2
    assert delta(total, model="", protocol="v2_grpc", kind="predict", code="NOT_FOUND") == 1

    latency = "moorings_request_duration_seconds"
    assert delta(f"{latency}_count", **MLP, protocol="tfserving_rest", kind="predict") == 3
    assert delta(f"{latency}_sum", **MLP, protocol="tfserving_rest", kind="predict") > 0
    assert delta(f"{latency}_bucket", **MLP, protocol="v2_grpc", kind="predict", le="+Inf") == 2
    # every predict of the MLP went through its batcher: 3 + 1 + 2 queue waits
    assert delta("moorings_queue_wait_seconds_count", **MLP) == 6
    calls = delta("moorings_model_duration_seconds_count", **MLP)
    assert 1 <= calls <= 6
    assert delta("moorings_batch_size_count", **MLP) == calls
    assert delta("moorings_batch_size_sum", **MLP) == 6

    assert value(after, "moorings_requests_in_flight") == 1  # the scrape itself
    assert value(after, "moorings_queue_depth", **MLP) == 0
    assert value(after, "moorings_model_state", **MLP, state="AVAILABLE") == 1
    assert value(after, "moorings_model_state", **MLP, state="LOADING") == 0
    assert value(after, "moorings_model_load_duration_seconds", **MLP) > 0
    assert value(after, "process_cpu_seconds_total") > 0
    assert value(after, "process_resident_memory_bytes") > 0


def test_metrics_port_serves_the_same_figures(server: RunningServer) -> None:
    port = server.metrics_port  # type: ignore[attr-defined]
    samples = scrape(f"http://127.0.0.1:{port}/metrics")
    assert value(samples, "moorings_model_state", **MLP, state="AVAILABLE") == 1
    assert httpx.get(f"http://127.0.0.1:{port}/v1/models/mlp").status_code == 404


def test_a_failed_load_is_counted(server: RunningServer, tmp_path: Path) -> None:
    repo = Path(server.log_path).parent / "repo"
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "1" / "model.onnx").write_bytes(b"not an onnx graph")
    deadline = time.monotonic() + 30
    failures = 0.0
    while time.monotonic() < deadline and not failures:
        samples = scrape(f"{server.url}/metrics")
        failures = value(samples, "moorings_model_load_failures_total", model="broken", version="1")
        time.sleep(0.2)
    assert failures >= 1
    assert value(samples, "moorings_model_state", model="broken", version="1", state="END") == 1
    assert value(samples, "moorings_model_state", **MLP, state="AVAILABLE") == 1


def test_request_ids_round_trip_on_rest(server: RunningServer) -> None:
    given = httpx.post(
        f"{server.url}/v1/models/mlp:predict", json=ROWS, headers={"X-Request-Id": "rest-id-1"}
    )
    assert given.headers["x-request-id"] == "rest-id-1"
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = httpx.post(
        f"{server.url}/v1/models/mlp:predict",
        json=ROWS,
        headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    assert traced.headers["x-request-id"] == trace
    made = httpx.post(f"{server.url}/v1/models/mlp:predict", json=ROWS).headers["x-request-id"]
    again = httpx.post(f"{server.url}/v1/models/mlp:predict", json=ROWS).headers["x-request-id"]
    assert made and again and made != again
    # an id that is not 1-128 visible ASCII characters is replaced, not echoed
    long = httpx.post(f"{server.url}/v1/models/mlp:predict", json=ROWS, headers={"X-Request-Id": "a" * 129})
    assert long.headers["x-request-id"] != "a" * 129
    # errors carry it too
    missing = httpx.post(
        f"{server.url}/v1/models/nope:predict", json=ROWS, headers={"X-Request-Id": "rest-id-2"}
    )
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "rest-id-2"


def test_request_ids_round_trip_on_grpc(server: RunningServer) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        _, call = stub.ModelInfer.with_call(
            _infer("mlp"), timeout=10, metadata=(("x-request-id", "grpc-id-1"),)
        )
        assert ("x-request-id", "grpc-id-1") in tuple(call.trailing_metadata())
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(_infer("nope"), timeout=10, metadata=(("x-request-id", "grpc-id-2"),))
        assert ("x-request-id", "grpc-id-2") in tuple(refused.value.trailing_metadata())
        _, call = stub.ModelInfer.with_call(_infer("mlp"), timeout=10)
        made = dict(call.trailing_metadata())["x-request-id"]
        assert made


def test_json_access_log_has_one_line_per_request(server: RunningServer) -> None:
    httpx.post(f"{server.url}/v1/models/mlp:predict", json=ROWS, headers={"X-Request-Id": "log-rest"})
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        stub.ModelInfer(_infer("mlp"), timeout=10, metadata=(("x-request-id", "log-grpc"),))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        by_id = {line["request_id"]: line for line in _access_lines(server)}
        if "log-rest" in by_id and "log-grpc" in by_id:
            break
        time.sleep(0.1)
    rest, rpc = by_id["log-rest"], by_id["log-grpc"]
    assert [line["request_id"] for line in _access_lines(server)].count("log-rest") == 1
    assert rest["model"] == "mlp" and rest["version"] == "1" and rest["protocol"] == "tfserving_rest"
    assert rest["kind"] == "predict" and rest["status"] == "200"
    assert isinstance(rest["duration_ms"], float) and rest["duration_ms"] > 0
    assert rpc["protocol"] == "v2_grpc" and rpc["status"] == "OK" and rpc["model"] == "mlp"
    # every other line of the log is JSON too
    for line in server.log().splitlines():
        if "moorings" in line and line.strip():
            assert line.startswith("{"), line


def test_searches_are_counted_by_collection(server: RunningServer) -> None:
    url = f"{server.url}/v1/collections"
    assert httpx.post(url, json={"name": "films", "dim": 4}).status_code == 201
    items = [{"id": str(i), "vector": [float(i), 1.0, 0.0, 0.0]} for i in range(1, 6)]
    assert httpx.post(f"{url}/films:upsert", json={"items": items}).status_code == 200
    for _ in range(2):
        assert httpx.post(f"{url}/films:search", json={"vector": [1, 1, 0, 0], "k": 2}).status_code == 200
    assert httpx.post(f"{url}/films:search", json={"id": "no-such-item", "k": 2}).status_code == 404
    samples = scrape(f"{server.url}/metrics")
    assert value(samples, "moorings_search_requests_total", collection="films", outcome="ok") == 2
    assert value(samples, "moorings_search_requests_total", collection="films", outcome="error") == 1
    assert value(samples, "moorings_search_duration_seconds_count", collection="films") == 3
    # collection routes are not model requests
    assert value(samples, "moorings_requests_total", protocol="") == 0


def test_no_metrics_turns_the_route_off(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    with running_server(tmp_path / "repo", "--no-metrics", "--data-dir", str(tmp_path / "data")) as server:
        assert httpx.post(f"{server.url}/v1/models/mlp:predict", json=ROWS).status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 404


def test_own_grpc_front_end_counts_and_returns_request_ids(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    args = ("--grpc-server", "moorings", "--data-dir", str(tmp_path / "data"))
    with (
        running_server(tmp_path / "repo", *args) as server,
        grpc.insecure_channel(server.grpc_target) as channel,
    ):
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        _, call = stub.ModelInfer.with_call(
            _infer("mlp"), timeout=10, metadata=(("x-request-id", "h2-id-1"),)
        )
        assert ("x-request-id", "h2-id-1") in tuple(call.trailing_metadata())
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(_infer("nope"), timeout=10, metadata=(("x-request-id", "h2-id-2"),))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert ("x-request-id", "h2-id-2") in tuple(refused.value.trailing_metadata())
        samples = scrape(f"{server.url}/metrics")
        total = "moorings_requests_total"
        assert value(samples, total, **MLP, protocol="v2_grpc", kind="predict", code="OK") == 1
        assert value(samples, total, model="", protocol="v2_grpc", kind="predict", code="NOT_FOUND") == 1


def test_uvicorn_front_end_is_counted_too(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    args = ("--http-server", "uvicorn", "--data-dir", str(tmp_path / "data"))
    with running_server(tmp_path / "repo", *args) as server:
        response = httpx.post(
            f"{server.url}/v1/models/mlp:predict", json=ROWS, headers={"X-Request-Id": "uv-1"}
        )
        assert response.status_code == 200 and response.headers["x-request-id"] == "uv-1"
        samples = scrape(f"{server.url}/metrics")
        labels = {"protocol": "tfserving_rest", "kind": "predict", "code": "200"}
        assert value(samples, "moorings_requests_total", **MLP, **labels) == 1


def test_tf_serving_prometheus_path_serves_the_same_text(server: RunningServer) -> None:
    answer = httpx.get(f"{server.url}/monitoring/prometheus/metrics")
    assert answer.status_code == 200 and "moorings_requests_total" in answer.text

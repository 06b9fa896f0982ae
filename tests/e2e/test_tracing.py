"""Request spans reach a real OTLP/HTTP receiver, parented by the client's ``traceparent``.

The receiver is a plain HTTP server that decodes what the OpenTelemetry exporter posts to
``/v1/traces`` with the OTLP protobuf messages; the server is a real ``moorings serve`` process
configured only through the usual ``OTEL_*`` variables.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.support.onnx_models import write_mlp
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class _Receiver(BaseHTTPRequestHandler):
    spans: list[Any]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append((service.get("service.name"), span))
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any]]]:
    spans: list[Any] = []
    handler = type("Receiver", (_Receiver,), {"spans": spans})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", spans
    finally:
        server.shutdown()
        server.server_close()


def _wait_for(spans: list[Any], count: int) -> None:
    deadline = time.monotonic() + 20
    while len(spans) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def _attributes(span: Any) -> dict[str, Any]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def test_rest_and_grpc_requests_export_their_stages(
    tmp_path: Path, receiver: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, spans = receiver
    write_mlp(tmp_path / "repo" / "mlp" / "1")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "moorings-under-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    with running_server(tmp_path / "repo", tfserving_grpc=False) as server:
        answer = httpx.post(
            f"{server.url}/v1/models/mlp:predict",
            json={"instances": [[1.0, 2.0, 3.0, 4.0]]},
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        )
        assert answer.status_code == 200
        assert (
            httpx.post(f"{server.url}/v1/models/nothing:predict", json={"instances": [[1.0]]}).status_code
            == 404
        )
        with grpc.insecure_channel(server.grpc_target) as channel:
            request = service_pb2.ModelInferRequest(model_name="mlp")
            request.inputs.add(name="x", datatype="FP32", shape=[2, 4])
            request.raw_input_contents.append(np.ones((2, 4), np.float32).tobytes())
            service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
        _wait_for(spans, 11)  # 5 for each model request, 1 for the 404
    assert {service for service, _ in spans} == {"moorings-under-test"}
    by_trace: dict[bytes, list[Any]] = {}
    for _, span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    rest = by_trace[bytes.fromhex(TRACE_ID)]
    root = next(s for s in rest if s.name == "tfserving_rest predict")
    assert root.parent_span_id == bytes.fromhex(PARENT_ID)
    assert root.kind == root.SPAN_KIND_SERVER
    attributes = _attributes(root)
    assert attributes["moorings.model"] == "mlp" and attributes["moorings.version"] == 1
    assert attributes["http.response.status_code"] == 200
    children = {s.name: s for s in rest if s.parent_span_id == root.span_id}
    assert set(children) == {"decode", "queue", "model", "encode"}
    order = [children[n] for n in ("decode", "queue", "model", "encode")]
    assert root.start_time_unix_nano <= order[0].start_time_unix_nano
    for before, after in itertools.pairwise(order):
        assert before.end_time_unix_nano <= after.start_time_unix_nano + 1
    assert order[-1].end_time_unix_nano <= root.end_time_unix_nano
    assert _attributes(children["model"])["moorings.batch_rows"] >= 1

    names = {s.name for _, s in spans}
    assert "v2_grpc predict" in names
    grpc_root = next(s for _, s in spans if s.name == "v2_grpc predict")
    assert _attributes(grpc_root)["rpc.grpc.status_code"] == "OK"
    assert len([s for _, s in spans if s.parent_span_id == grpc_root.span_id]) == 4
    refused = next(s for _, s in spans if _attributes(s).get("http.response.status_code") == 404)
    assert refused.status.code != refused.status.STATUS_CODE_ERROR  # a client's mistake is not a server error


def test_an_unknown_exporter_is_refused_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mlp(tmp_path / "repo" / "mlp" / "1")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(RuntimeError, match="unknown exporter 'zipkin'"), running_server(tmp_path / "repo"):
        pass

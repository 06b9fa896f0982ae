"""Which environments turn spans on, and the spans one observed request becomes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from moorings.observe import tracing
from moorings.observe.metrics import Observation
from moorings.types import ServableId


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_the_environment_decides(environ: dict[str, str], wanted: bool) -> None:
    assert tracing.wanted(environ) is wanted


def test_check_names_the_exporter_it_cannot_make() -> None:
    tracing.check({"OTEL_TRACES_EXPORTER": "console,otlp"})
    with pytest.raises(ValueError, match="unknown exporter 'jaeger'"):
        tracing.check({"OTEL_TRACES_EXPORTER": "console,jaeger"})


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing._tracer = provider.get_tracer("test")
    tracing.switch.enabled = True
    try:
        yield exporter
    finally:
        tracing._tracer = None
        tracing.switch.enabled = False


def _observation(batched: bool) -> Observation:
    observation = Observation("v2_rest", "predict", "rid-1")
    observation.servable = ServableId("mlp", 3)
    observation.traceparent = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    now = observation.start
    observation.queued = now + 0.001 if batched else 0.0
    observation.model_start = now + 0.002
    observation.model_end = now + 0.004
    observation.batch_rows = 8 if batched else 0
    return observation


def test_a_batched_request_has_four_stages_under_its_parent(exported: InMemorySpanExporter) -> None:
    started = time.time_ns()
    tracing.export(_observation(batched=True), "200")
    spans = {s.name: s for s in exported.get_finished_spans()}
    assert set(spans) == {"v2_rest predict", "decode", "queue", "model", "encode"}
    root = spans["v2_rest predict"]
    assert f"{root.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert root.parent is not None and f"{root.parent.span_id:016x}" == "b7ad6b7169203331"
    assert root.attributes is not None and root.attributes["moorings.model"] == "mlp"
    assert root.attributes["moorings.version"] == 3 and root.attributes["moorings.request_id"] == "rid-1"
    assert root.start_time is not None and abs(root.start_time - started) < 1e9
    for name in ("decode", "queue", "model", "encode"):
        child = spans[name]
        assert child.parent is not None and child.parent.span_id == root.context.span_id
    assert spans["model"].attributes == {"moorings.batch_rows": 8}
    model = spans["model"]
    assert model.end_time is not None and model.start_time is not None
    assert model.end_time - model.start_time == pytest.approx(2_000_000, abs=10_000)


def test_an_unbatched_request_has_no_queue_and_errors_are_marked(exported: InMemorySpanExporter) -> None:
    tracing.export(_observation(batched=False), "INTERNAL")
    spans = {s.name: s for s in exported.get_finished_spans()}
    assert set(spans) == {"v2_rest predict", "decode", "model", "encode"}
    assert not spans["v2_rest predict"].status.is_ok
    assert spans["v2_rest predict"].attributes is not None
    assert spans["v2_rest predict"].attributes["rpc.grpc.status_code"] == "INTERNAL"


def test_a_request_that_never_reached_a_model_is_one_span(exported: InMemorySpanExporter) -> None:
    observation = Observation("tfserving_rest", "predict", "rid-2")
    tracing.export(observation, "404")
    (span,) = exported.get_finished_spans()
    assert span.parent is None and span.status.is_unset

"""OpenTelemetry spans for each model request: decode, queue, model, encode.

Off unless the OpenTelemetry SDK is installed (``pip install 'moorings[otel]'``) and the
usual variables ask for spans: ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, or several,
comma-separated; ``none`` turns it off) or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). ``OTEL_SDK_DISABLED=true`` wins over both. The SDK
itself reads the rest: ``OTEL_SERVICE_NAME`` (default ``moorings``), ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_EXPORTER_OTLP_*`` (endpoint, headers, timeout; ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or
``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf``, the default, or ``grpc`` with the gRPC
exporter installed), ``OTEL_BSP_*`` (the batch span processor), ``OTEL_TRACES_SAMPLER``.

Spans are made when a request is answered, from the times its observation
(:class:`moorings.observe.metrics.Observation`) recorded while it ran, so a request costs
nothing extra on its way through the server: one server span per request (its parent taken
from the request's W3C ``traceparent``), with a child for each stage it went through —
``decode`` (from arrival until the request was handed to the model's queue or pool),
``queue`` (until its batch started), ``model`` (the model call; ``moorings.batch_rows`` says
how many rows the batch held), ``encode`` (from the model's answer to the response). Spans
are exported in the background by the SDK's batch processor.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moorings.observe.metrics import Observation

log = logging.getLogger(__name__)

#: status codes (HTTP, then gRPC names) that mark the request's span as an error
_SERVER_ERRORS = frozenset({"INTERNAL", "UNKNOWN", "DATA_LOSS", "UNAVAILABLE", "DEADLINE_EXCEEDED"})


class _Switch:
    """Whether spans are made (set by :func:`configure`)."""

    enabled = False


switch = _Switch()
_tracer: Any = None
_provider: Any = None


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for spans."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure(environ: Mapping[str, str] | None = None) -> str | None:
    """Turn spans on when the environment asks for them; return what they are exported to, or None.

    Raises ValueError for an exporter this server cannot make (an unknown name, or the OTLP
    exporter's package missing): a configuration the operator asked for and would not get.
    """
    global _tracer, _provider
    env = os.environ if environ is None else environ
    if not wanted(env):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_* variables ask for traces, but the OpenTelemetry SDK is not installed "
            "(pip install 'moorings[otel]'): no spans are exported"
        )
        return None
    names = _names(env)
    exporters = [_exporter_class(name, env)() for name in names]
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": "moorings"}
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("moorings")
    switch.enabled = True
    return ", ".join(names)


def check(environ: Mapping[str, str] | None = None) -> None:
    """Raise ValueError, as :func:`configure` would, when the spans asked for cannot be exported."""
    env = os.environ if environ is None else environ
    if not wanted(env):
        return
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return  # configure() warns and serves without spans
    for name in _names(env):
        _exporter_class(name, env)


def _names(env: Mapping[str, str]) -> list[str]:
    names = (n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(","))
    return [n for n in names if n and n != "none"]


def _exporter_class(name: str, env: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter
    if name != "otlp":
        raise ValueError(
            f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (this server knows otlp and console)"
        )
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    try:
        if protocol.strip().lower() == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
    except ImportError:
        package = "grpc" if protocol.strip().lower() == "grpc" else "http"
        raise ValueError(
            f"OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-{package} "
            "(pip install 'moorings[otel]')"
        ) from None
    return OTLPSpanExporter


def shutdown() -> None:
    """Export the spans still buffered, then stop (at server shutdown)."""
    global _tracer, _provider
    provider = _provider
    switch.enabled = False
    _tracer = _provider = None
    if provider is not None:
        provider.shutdown()


def export(observation: Observation, code: str) -> None:
    """Make the spans of one answered request from its recorded times (``code``: its status)."""
    tracer = _tracer
    if tracer is None or not observation.protocol:
        return
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    end = time.perf_counter()
    # perf_counter() times of this request as wall-clock nanoseconds: one reading of each clock
    base = time.time_ns() - int((end - observation.start) * 1e9)

    def ns(t: float) -> int:
        return base + int((t - observation.start) * 1e9)

    servable = observation.servable
    attributes: dict[str, Any] = {
        "moorings.protocol": observation.protocol,
        "moorings.kind": observation.kind,
        "moorings.request_id": observation.request_id,
        "moorings.status": code,
    }
    if servable is not None:
        attributes["moorings.model"] = servable.name
        attributes["moorings.version"] = servable.version
    if code.isdigit():
        attributes["http.response.status_code"] = int(code)
    else:
        attributes["rpc.grpc.status_code"] = code
    root = tracer.start_span(
        f"{observation.protocol} {observation.kind}",
        context=_parent(observation.traceparent),
        kind=SpanKind.SERVER,
        start_time=base,
        attributes=attributes,
    )
    if code in _SERVER_ERRORS or code.startswith("5"):
        root.set_status(Status(StatusCode.ERROR, code))
    context = trace.set_span_in_context(root)
    model_start, model_end = observation.model_start, observation.model_end
    if model_start and model_end:
        handed = observation.queued or model_start
        _child(tracer, "decode", context, ns(observation.start), ns(handed))
        if observation.queued:
            _child(tracer, "queue", context, ns(handed), ns(model_start))
        _child(tracer, "model", context, ns(model_start), ns(model_end), observation.batch_rows)
        _child(tracer, "encode", context, ns(model_end), ns(end))
    root.end(end_time=ns(end))


def _child(tracer: Any, name: str, context: Any, start: int, end: int, rows: int = 0) -> None:
    span = tracer.start_span(name, context=context, start_time=start)
    if rows:
        span.set_attribute("moorings.batch_rows", rows)
    span.end(end_time=max(start, end))


def _parent(traceparent: bytes | None) -> Any:
    """The context a W3C ``traceparent`` names (None: a new trace)."""
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {"traceparent": traceparent.decode("latin-1")}
    return TraceContextTextMapPropagator().extract(carrier)

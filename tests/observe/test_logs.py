"""Request ids and the JSON log format."""

from __future__ import annotations

import json
import logging

from moorings.observe import logs


def test_a_usable_client_id_is_kept() -> None:
    assert logs.request_id(b"abc-123", None) == "abc-123"
    assert logs.request_id(b"x" * 128, None) == "x" * 128


def test_an_unusable_client_id_is_replaced() -> None:
    for bad in (b"", b"x" * 129, b"has space", b"caf\xc3\xa9", b"tab\there", b"\x00"):
        made = logs.request_id(bad, None)
        assert made != bad.decode("latin-1") and made.startswith(logs.made_id().rsplit("-", 1)[0])


def test_the_trace_id_of_a_traceparent() -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert logs.request_id(None, f"00-{trace}-00f067aa0ba902b7-01".encode()) == trace
    # the client's X-Request-Id wins over the trace id
    assert logs.request_id(b"mine", f"00-{trace}-00f067aa0ba902b7-01".encode()) == "mine"
    # malformed or all-zero trace ids are not used
    for bad in (b"00-xyz-00f067aa0ba902b7-01", f"00-{'0' * 32}-00f067aa0ba902b7-01".encode(), b"garbage"):
        assert len(logs.request_id(None, bad)) < 32


def test_made_ids_differ() -> None:
    assert len({logs.made_id() for _ in range(1000)}) == 1000


def test_json_lines_and_access_records() -> None:
    formatter = logs.JsonFormatter()
    plain = logging.LogRecord("moorings.server", logging.WARNING, __file__, 1, "port %d busy", (80,), None)
    entry = json.loads(formatter.format(plain))
    assert entry["level"] == "warning" and entry["logger"] == "moorings.server"
    assert entry["message"] == "port 80 busy" and entry["time"].endswith("Z")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logs.access_log.addHandler(keep)
    logs.access_log.setLevel(logging.INFO)
    try:
        logs.log_access("mlp", "1", "v2_grpc", "predict", "OK", 0.0012345, "rid-1")
    finally:
        logs.access_log.removeHandler(keep)
    line = json.loads(formatter.format(records[0]))
    assert line["logger"] == "moorings.access" and line["message"] == "request"
    assert (line["model"], line["version"], line["protocol"], line["kind"]) == (
        "mlp",
        "1",
        "v2_grpc",
        "predict",
    )
    assert line["status"] == "OK" and line["duration_ms"] == 1.234 and line["request_id"] == "rid-1"

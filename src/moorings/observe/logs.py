"""Request ids, JSON log lines and the access log.

A request id comes from the client's ``X-Request-Id`` (REST header or gRPC metadata) when it is
1 to 128 visible ASCII characters, else from the trace id of a W3C ``traceparent``, else it is
made here: this process's random prefix and a counter. The REST app returns it in an
``X-Request-Id`` header, the gRPC wrapper in the trailing metadata ``x-request-id``.

``--log-format json`` writes every log record as one JSON object per line, and one access-log
record per model request (logger ``moorings.access``): model, version, protocol, kind, status,
duration and request id.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any

import orjson

REQUEST_ID_HEADER = b"x-request-id"
TRACEPARENT_HEADER = b"traceparent"
_VALID_ID = re.compile(rb"[\x21-\x7e]{1,128}")
_TRACEPARENT = re.compile(rb"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)

access_log = logging.getLogger("moorings.access")


class _AccessSwitch:
    """Whether access-log lines are written (``--log-format json`` turns it on)."""

    enabled = False


access = _AccessSwitch()


def made_id() -> str:
    return f"{_PREFIX}-{next(_counter)}"


def request_id(given: bytes | None, traceparent: bytes | None) -> str:
    """The request's id: the client's ``X-Request-Id`` when usable, else the trace id, else a new one."""
    if given is not None and _VALID_ID.fullmatch(given):
        return given.decode("ascii")
    if traceparent is not None:
        match = _TRACEPARENT.fullmatch(traceparent.strip())
        if match is not None and match.group(1) != b"0" * 32:
            return match.group(1).decode("ascii")
    return made_id()


def log_access(
    model: str, version: str, protocol: str, kind: str, status: str, seconds: float, rid: str
) -> None:
    """One access-log line (at INFO on ``moorings.access``)."""
    access_log.info(
        "%s %s %s v%s %s %.3fms %s",
        protocol, kind, model, version, status, seconds * 1e3, rid,
        extra={
            "access": {
                "model": model, "version": version, "protocol": protocol, "kind": kind,
                "status": status, "duration_ms": round(seconds * 1e3, 3), "request_id": rid,
            }
        },
    )  # fmt: skip


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and an access record's fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.processName,
        }
        fields = getattr(record, "access", None)
        if isinstance(fields, dict):
            entry["message"] = "request"
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(level: int | str, log_format: str, text_format: str) -> None:
    """Set up the root logger, as ``logging.basicConfig`` does (nothing when it has handlers
    already): plain text (``text_format``) or JSON lines; JSON turns the access log on."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        access.enabled = True
    else:
        handler.setFormatter(logging.Formatter(text_format))
    logging.basicConfig(level=level, handlers=[handler])

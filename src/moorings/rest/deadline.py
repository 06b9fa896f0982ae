"""REST deadlines: when a request stops being worth starting.

A client names its deadline with the header ``Request-Timeout: <seconds>`` (a decimal
number, e.g. ``0.25``), counted from when the server has read the request; a KServe V2
infer body may instead carry ``"parameters": {"timeout": <microseconds>}`` (as Triton
reads it; 0 means none). The server's ``--request-timeout-seconds`` applies when the
request names none, and caps one that names a longer one. A request whose deadline
passes before the model starts it is not run and gets 504.
"""

from __future__ import annotations

import math
import time
from typing import Any

from moorings.errors import InvalidArgument
from moorings.http1.messages import Request

HEADER = b"request-timeout"
#: a longer timeout than this is refused as a mistake (it is a day)
MAX_SECONDS = 86_400.0


def deadline(request: Request, default: float = 0.0, v2_timeout: Any = None) -> float | None:
    """The ``time.monotonic()`` deadline of ``request``; None when neither it nor the server sets one."""
    raw = request.header(HEADER)
    if raw is None and v2_timeout is None:  # the usual request: no list to build
        return time.monotonic() + default if default > 0 else None
    timeouts = [default] if default > 0 else []
    if raw is not None:
        timeouts.append(_header_seconds(raw))
    if v2_timeout is not None:
        microseconds = _v2_microseconds(v2_timeout)
        if microseconds:
            timeouts.append(microseconds / 1e6)
    if not timeouts:
        return None
    return time.monotonic() + min(timeouts)


def _header_seconds(raw: bytes) -> float:
    text = raw.decode("latin-1").strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_SECONDS or not text[:1].isdigit():
        raise InvalidArgument(
            f"the Request-Timeout header must be a number of seconds above 0 and at most "
            f"{MAX_SECONDS:.0f}, e.g. 'Request-Timeout: 0.5'; got {text[:40]!r}"
        )
    return seconds


def _v2_microseconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_SECONDS * 1e6:
        raise InvalidArgument(
            f"parameters.timeout must be a whole number of microseconds from 0 to {MAX_SECONDS * 1e6:.0f} "
            f"(0: none); got {str(value)[:40]}"
        )
    return value

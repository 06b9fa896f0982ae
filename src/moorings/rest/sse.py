"""Server-sent events: a stream of results as a ``text/event-stream`` body.

Each result is one event, ``data: <one JSON object>`` and a blank line. An error
after the stream has started (the model raised, the deadline passed) is one last
event, ``event: error`` with ``data: {"error": "..."}``; errors before it are the
route's ordinary JSON error answer with its status. The events are made one at a
time as the transport asks for them (see :class:`moorings.http1.messages.Streamed`),
and the stream is closed when the client goes away.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

from moorings.dataplane.stream import ResultStream
from moorings.errors import MooringsError
from moorings.http1.messages import Headers, Streamed
from moorings.requests import PredictResult
from moorings.rest.http import dump_json

log = logging.getLogger(__name__)

SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies (nginx) pass each event on at once
]


def event_stream(stream: ResultStream, encode: Callable[[PredictResult], Any]) -> Streamed:
    """The body of an SSE answer: one event per result of ``stream``, each ``encode``d as JSON."""
    events = _events(stream, encode)

    async def close() -> None:
        await events.aclose()
        await stream.aclose()  # when the events never began, their generator's finally never ran

    return Streamed(events, close)


async def _events(
    stream: ResultStream, encode: Callable[[PredictResult], Any]
) -> AsyncGenerator[bytes, None]:
    try:
        async for result in stream:
            yield b"data: " + dump_json(encode(result)) + b"\n\n"
    except MooringsError as exc:
        yield b"event: error\ndata: " + dump_json({"error": exc.message}) + b"\n\n"
    except Exception:
        log.exception("unhandled error while streaming results")
        yield (
            b"event: error\ndata: "
            + dump_json({"error": "internal server error; see the server log"})
            + b"\n\n"
        )
    finally:
        await stream.aclose()

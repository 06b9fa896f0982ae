"""The HTTP floor: a raw ASGI app that reads the body and answers a fixed small JSON, on uvicorn.

taskset -c 0 .venv/bin/uvicorn benchmarks.floor.echo_app:app --http httptools --loop uvloop --no-access-log
"""

from __future__ import annotations

from typing import Any

ANSWER = b'{"predictions":[[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})

"""The HTTP floor of Moorings' own server: its HTTP/1.1 layer with a handler that answers fixed JSON.

    taskset -c 0 .venv/bin/python benchmarks/floor/http1_echo.py --port 9101 --seconds 30

Drive it with wrk on the other core (see ``floor/README`` in RESULTS.md); compare with
``echo_app.py`` on uvicorn (the ASGI floor).
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop

from moorings.http1 import HttpServer
from moorings.http1.messages import Answer, Request

ANSWER = b'{"predictions":[[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]]}'
HEADERS = [(b"content-type", b"application/json")]


async def handle(request: Request) -> Answer:
    return 200, ANSWER, HEADERS


async def main(port: int, seconds: float) -> None:
    server = HttpServer(handle, "127.0.0.1", port)
    await server.start()
    await asyncio.sleep(seconds)
    await server.stop(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    uvloop.run(main(args.port, args.seconds))

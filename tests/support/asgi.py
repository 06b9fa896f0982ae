"""Call an ASGI app in-process (no sockets) from synchronous tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(app: Any, method: str, path: str, json: Any = None, content: bytes | None = None) -> Response:
    async def go() -> Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            body = content if content is not None else (orjson.dumps(json) if json is not None else None)
            r = await client.request(method, path, content=body)
            return Response(r.status_code, r.content)

    return asyncio.run(go())

"""Call an ASGI app in-process (no sockets) from synchronous tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(
    app: Any,
    method: str,
    path: str,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    async def go() -> Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            body = content if content is not None else (orjson.dumps(json) if json is not None else None)
            r = await client.request(method, path, content=body, headers=headers)
            return Response(r.status_code, r.content)

    return asyncio.run(go())


@contextmanager
def serving_app(repository: Path, load_timeout: float = 60) -> Iterator[RestApp]:
    """The REST app over a repository whose first loads have finished; stopped afterwards."""
    manager = Manager(LocalSource(repository), Loader(repository))
    manager.poll_once()
    manager.wait_until_idle(load_timeout)
    dataplane = DataPlane(manager, inference_threads=2)
    try:
        yield RestApp(dataplane, max_body_bytes=1024 * 1024)
    finally:
        manager.stop()
        dataplane.close()

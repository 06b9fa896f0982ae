"""A real grpcio (grpc.aio) server on its own event loop thread, for services built from descriptors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from tests.support.server import free_port


@contextmanager
def aio_server(add: Callable[[Any], None]) -> Iterator[str]:
    """Serve what ``add(server)`` registers on a loopback port; yields the target."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = free_port()

    async def start() -> Any:
        server = grpc.aio.server()
        add(server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

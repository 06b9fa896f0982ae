"""Listen, accept connections, sweep idle ones, and drain on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from moorings.http1 import wire
from moorings.http1.connection import READ_BUFFER, Handler, HttpConnection
from moorings.http1.limits import Limits

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0  # how often idle and slow connections are looked at


class HttpServer:
    """Serve ``handler`` on ``host:port``, or on listening sockets bound by a parent process."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
        sockets: list[socket.socket] | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._limits = limits or Limits()
        self._sockets = sockets
        self._servers: list[asyncio.Server] = []
        self._connections: set[HttpConnection] = set()
        self._date = wire.DateHeader()
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_seconds = sweep_seconds

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        read_buffer = bytearray(READ_BUFFER)  # every connection's reads, one at a time on this loop

        def connection() -> HttpConnection:
            return HttpConnection(
                self._handler, self._limits, self._connections, self._date, loop, read_buffer
            )

        if self._sockets is not None:
            for sock in self._sockets:
                self._servers.append(await loop.create_server(connection, sock=sock, backlog=2048))
        else:
            self._servers.append(
                await loop.create_server(connection, self._host, self._port, backlog=2048, reuse_address=True)
            )
        self._sweeper = loop.create_task(self._sweep())

    @property
    def ports(self) -> list[int]:
        """The ports listened on (useful with port 0)."""
        return [sock.getsockname()[1] for server in self._servers for sock in server.sockets]

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._sweep_seconds)
            self._check_timeouts(loop.time())

    def _check_timeouts(self, now: float) -> None:
        """One sweep; a function of its own, so no sleeping frame keeps a closed connection alive."""
        for connection in list(self._connections):
            connection.check_timeouts(now)

    async def stop(self, grace: float) -> None:
        """Stop accepting, let connections finish the answers they owe (up to ``grace`` s), close the rest."""
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if self._connections:
            log.warning("closing %d connection(s) still busy after %.0f s", len(self._connections), grace)
        cancelled = [task for c in list(self._connections) if (task := c.abort()) is not None]
        if cancelled:  # let the cancelled answers unwind (a handler that ignores it is not waited for)
            await asyncio.wait(cancelled, timeout=1)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for server in self._servers:
            await server.wait_closed()

"""Listen for HTTP/2 with prior knowledge (no TLS: a gRPC insecure port); apply time limits; drain on stop."""

from __future__ import annotations

import asyncio
import logging
import socket

from moorings.http2.connection import Handler, Http2Connection
from moorings.http2.limits import Limits
from moorings.sockets import bound_socket

log = logging.getLogger(__name__)


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound, listening, non-blocking TCP socket."""
    sock = bound_socket(host, port, reuse_port)
    try:
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Http2Server:
    """Serve ``handler`` on sockets given to :meth:`start`."""

    def __init__(
        self, handler: Handler, limits: Limits | None = None, on_open: Handler | None = None
    ) -> None:
        self._handler = handler
        self._on_open = on_open
        self._limits = limits or Limits()
        self._servers: list[asyncio.Server] = []
        self._connections: set[Http2Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()

        def connection() -> Http2Connection:
            return Http2Connection(self._handler, self._limits, self._connections, loop, self._on_open)

        for sock in sockets:
            self._servers.append(await loop.create_server(connection, sock=sock, backlog=2048))
        self._sweep()

    def _sweep(self) -> None:
        """Apply every connection's time limits, then again a fraction of the shortest limit later."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for connection in list(self._connections):
            connection.tick(now)
        limits = self._limits
        shortest = min(limits.idle_seconds, limits.request_seconds, limits.send_stall_seconds)
        self._sweeper = loop.call_later(min(1.0, max(0.02, shortest / 4)), self._sweep)

    async def stop(self, grace: float | None) -> None:
        """Stop accepting; send GOAWAY; let open streams finish (up to ``grace`` s, None: no limit)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.go_away()
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        while self._connections and (deadline is None or loop.time() < deadline):
            if all(c.idle for c in self._connections):
                await asyncio.sleep(0.01)  # the last GOAWAY and answers are being written
                break
            await asyncio.sleep(0.02)
        for connection in list(self._connections):
            if not connection.idle:  # idle ones are closing already, after their last answers
                connection.abort()
        for server in self._servers:
            await server.wait_closed()

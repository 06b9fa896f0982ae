"""grpcio's server, stopped so that calls it had received but not yet taken up are finished too.

grpcio's aio server takes up (matches) received calls one at a time; ``stop(grace)`` lets
the calls already taken up finish but cancels those still waiting to be taken up, even with
time left in the grace. So :meth:`stop` first lets grpcio take up what it received, until no
new call has come for ``settle_seconds`` (within the grace), and only then stops it with what
is left of the grace. Everything else is grpcio's ``grpc.aio.Server``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

#: a pause in newly taken-up calls this long means grpcio has taken up what it received
SETTLE_SECONDS = 0.2


class _CallsTakenUp(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Notes when grpcio last took up a call (interceptors run as a call is matched)."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        self.last = time.monotonic()
        return await continuation(handler_call_details)


class GrpcioServer:
    """A ``grpc.aio.Server`` whose :meth:`stop` finishes every call received before it."""

    def __init__(self, options: Sequence[tuple[str, Any]], settle_seconds: float = SETTLE_SECONDS) -> None:
        self._taken_up = _CallsTakenUp()
        self._server = grpc.aio.server(options=options, interceptors=[self._taken_up])
        self._settle = settle_seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    async def stop(self, grace: float | None) -> None:
        deadline = None if grace is None else time.monotonic() + grace
        while time.monotonic() - self._taken_up.last < self._settle:
            if deadline is not None and time.monotonic() + self._settle >= deadline:
                break
            await asyncio.sleep(self._settle / 4)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        await self._server.stop(left)

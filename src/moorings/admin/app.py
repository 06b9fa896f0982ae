"""The management API: what changes the server's state, on its own port, always behind a token.

Served (``--admin-port``, on 127.0.0.1 unless ``--admin-host``) by Moorings'
HTTP/1.1 server, like ``--metrics-port``; every route needs a token of
``--admin-token-file`` (``Authorization: Bearer`` or ``X-API-Key``)::

    POST /v2/repository/index, /v2/repository/models/{name}/load|unload   (admin/repository.py)
    /v1/collections...        every collection route, writes included (rest/collections.py)
    POST /v1/admin/reload     read both token files again and rescan the model repository

Errors are ``{"error": ...}`` with their status; 401 carries ``WWW-Authenticate``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from moorings.admin import repository
from moorings.auth.rest import RestGuard
from moorings.auth.tokens import TokenFile
from moorings.core.manager import Manager
from moorings.errors import MooringsError, NotFound, Unauthenticated
from moorings.http1.messages import Answer, Request
from moorings.rest import collections as search_routes
from moorings.rest.http import JSON_HEADERS, allow_method, dump_json, path_segments
from moorings.search.service import Collections

log = logging.getLogger(__name__)


class AdminApp:
    def __init__(
        self,
        manager: Manager,
        admin_tokens: TokenFile,
        collections: Collections | None = None,
        auth_tokens: TokenFile | None = None,
    ) -> None:
        self.manager = manager
        self.collections = collections
        self.admin_tokens = admin_tokens
        self.auth_tokens = auth_tokens
        self.guard = RestGuard(admin_tokens, exempt=frozenset())

    async def handle(self, request: Request) -> Answer:
        """Answer one request; never raises."""
        try:
            segments = path_segments(request.raw_path)
            self.guard.check(request, segments)
            status, body = await self._dispatch(request, segments)
            return status, dump_json(body), JSON_HEADERS
        except MooringsError as exc:
            headers = JSON_HEADERS
            if isinstance(exc, Unauthenticated):
                headers = [*JSON_HEADERS, (b"www-authenticate", exc.challenge)]
            return exc.http_status, dump_json({"error": exc.message}), headers
        except Exception:
            log.exception("unhandled error serving admin %s %s", request.method, request.shown_path)
            return 500, dump_json({"error": "internal server error; see the server log"}), JSON_HEADERS

    async def _dispatch(self, request: Request, segments: list[str]) -> tuple[int, Any]:
        parts = segments[1:]
        if parts[:2] == ["v2", "repository"]:
            allow_method(request.method, "POST")
            if parts[2:] == ["index"]:
                return 200, repository.index(self.manager, request.body)
            if len(parts) == 5 and parts[2] == "models" and parts[4] in ("load", "unload"):
                if parts[4] == "load":
                    return 200, await repository.load(self.manager, parts[3])
                return 200, await repository.unload(self.manager, parts[3])
        elif parts[:2] == ["v1", "collections"]:
            return await search_routes.handle(self.collections, request, segments[3:])
        elif parts == ["v1", "admin", "reload"]:
            allow_method(request.method, "POST")
            return 200, await asyncio.to_thread(self.reload)
        raise NotFound(f"no such admin route: {request.shown_path}")

    def reload(self) -> dict[str, Any]:
        """Read the token files again and rescan the model repository."""
        answer: dict[str, Any] = {"admin_tokens": self._reload(self.admin_tokens)}
        if self.auth_tokens is not None:
            answer["auth_tokens"] = self._reload(self.auth_tokens)
        self.manager.poll_once()
        answer["models"] = self.manager.model_names()
        return answer

    @staticmethod
    def _reload(tokens: TokenFile) -> dict[str, Any]:
        ok = tokens.reload()
        return {"reloaded": ok, "tokens": tokens.count}

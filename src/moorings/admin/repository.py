"""KServe V2's model repository extension over the manager.

    POST /v2/repository/index                 [{"name", "version", "state", "reason"}, ...]
                                              body {"ready": true} lists only READY versions
    POST /v2/repository/models/{name}/load    lift an unload's pin, rescan the repository now, and
                                              wait for the model's versions to load
    POST /v2/repository/models/{name}/unload  pin the model off: its versions unload and stay
                                              unloaded, whatever the repository holds, until a load

States are the V2 names: READY, LOADING, UNLOADING, UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from moorings.core.manager import Manager
from moorings.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from moorings.names import check_model_name
from moorings.types import ModelRef, VersionState

STATES = {
    VersionState.START: "LOADING",
    VersionState.LOADING: "LOADING",
    VersionState.AVAILABLE: "READY",
    VersionState.UNLOADING: "UNLOADING",
    VersionState.END: "UNAVAILABLE",
}
#: the longest a load request waits for the model's versions to finish loading
LOAD_WAIT_SECONDS = 600.0


def index(manager: Manager, body: bytes | bytearray) -> list[dict[str, Any]]:
    ready_only = False
    if body.strip():
        try:
            options = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"malformed JSON in the request body: {exc}") from None
        if not isinstance(options, dict) or not isinstance(options.get("ready", False), bool):
            raise InvalidArgument('the index request body is {"ready": true|false} or empty')
        ready_only = options.get("ready", False)
    entries = []
    for entry in manager.index():
        state = STATES[entry.state]
        if ready_only and state != "READY":
            continue
        item: dict[str, Any] = {"name": entry.name, "state": state, "reason": entry.reason}
        if entry.version is not None:
            item["version"] = str(entry.version)
        entries.append(item)
    return entries


async def load(manager: Manager, name: str, wait_seconds: float = LOAD_WAIT_SECONDS) -> dict[str, Any]:
    check_model_name(name)
    await asyncio.to_thread(manager.load_model, name)
    until = time.monotonic() + wait_seconds
    while manager.loading(name):
        if time.monotonic() > until:
            raise Unavailable(f"model {name!r} is still loading after {wait_seconds:.0f} s")
        await asyncio.sleep(0.05)
    status = manager.status(ModelRef(name))
    ready = [v.version for v in status.versions if v.state is VersionState.AVAILABLE]
    if ready:
        return {"name": name, "loaded": True, "versions": [str(v) for v in sorted(ready)]}
    failed = [v for v in status.versions if v.error]
    if failed:
        newest = max(failed, key=lambda v: v.version)
        raise FailedPrecondition(f"model {name!r} version {newest.version} failed to load: {newest.error}")
    raise NotFound(f"model {name!r} has no version to load")


async def unload(manager: Manager, name: str) -> dict[str, Any]:
    check_model_name(name)
    await asyncio.to_thread(manager.unload_model, name)
    return {"name": name, "unloaded": True}

"""The embedded store's folder lock: one process at a time holds ``DATA_DIR/collections``.

The holder takes an exclusive ``flock`` on ``collections/.lock``. A server that holds it writes
its REST address into the file (:meth:`FolderLock.advertise`), so ``moorings collection`` beside
a running server can find the server and go through it (:func:`holder_url`) instead of failing
on the lock. The lock, not the file's text, says whether a holder is alive: the kernel drops the
lock when the holder exits, however it exits, and text left behind is then ignored.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import orjson

from moorings.errors import Unavailable

LOCK_NAME = ".lock"


class FolderLock:
    def __init__(self, root: Path) -> None:
        self._file = (root / LOCK_NAME).open("a+b")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise Unavailable(in_use_message(holder_url(root))) from None
        self._clear()

    def advertise(self, url: str | None) -> None:
        """Write (or with None, clear) the REST address at which this process serves the folder."""
        if self._file.closed:
            return
        if url is None:
            self._clear()
            return
        data = orjson.dumps({"pid": os.getpid(), "rest_url": url})
        os.ftruncate(self._file.fileno(), 0)
        os.pwrite(self._file.fileno(), data, 0)

    def _clear(self) -> None:
        os.ftruncate(self._file.fileno(), 0)

    def close(self) -> None:
        if not self._file.closed:
            self._clear()
            self._file.close()


def holder_url(root: Path) -> str | None:
    """The REST address advertised by the process that holds the folder ``root``; None when no
    process holds it, or the holder advertised none (not a server, or one still starting)."""
    path = root / LOCK_NAME
    try:
        with path.open("rb") as file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                data = file.read(4096)
            else:
                return None  # nobody holds it (the lock goes when this file closes)
    except FileNotFoundError:
        return None
    try:
        url = orjson.loads(data).get("rest_url")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def in_use_message(url: str | None) -> str:
    if url is None:
        return (
            "the search data folder is in use by another Moorings process; "
            "use that server (moorings collection --url http://HOST:PORT ...) or stop it"
        )
    return (
        f"the search data folder is in use by another Moorings process, the server at {url}; "
        f"use it (moorings collection --url {url} ...) or stop it"
    )


def local_url(host: str, port: int) -> str:
    """The address a client on this machine uses for a server listening on ``host:port``."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"

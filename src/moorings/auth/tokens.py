"""Bearer tokens / API keys read from a token file, checked in constant time, reloaded on change.

The file holds one token per line; blank lines and lines starting with ``#`` are
ignored, and so is whitespace around a token. A token is printable ASCII
without spaces.

Only SHA-256 digests of the tokens are kept. A presented token is hashed once
and compared with every known digest by ``hmac.compare_digest``, all of them,
whatever matched: the time taken depends on neither the tokens' values nor
their lengths nor which one matched.

The file is looked at again at most once per ``check_seconds`` (its size,
modification time and inode), and read again when it changed; :meth:`reload`
reads it at once (SIGHUP, the admin API). A file that cannot be read, or holds
no token, is an error at start-up; on a reload it leaves the tokens already
known in force and the error is logged. Tokens are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from pathlib import Path

from moorings.errors import InvalidArgument

log = logging.getLogger(__name__)

#: how often (seconds) a token file is checked for changes, at most
CHECK_SECONDS = 1.0
#: the largest token file read (a token file is a short list)
MAX_FILE_BYTES = 1024 * 1024


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def parse_tokens(text: bytes, flag: str) -> list[bytes]:
    """The tokens of a token file's bytes; InvalidArgument naming the line (never the token) when bad."""
    tokens = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        if not all(0x21 <= c <= 0x7E for c in line):
            raise InvalidArgument(
                f"{flag}: line {number} is not a token (a token is printable ASCII without spaces)"
            )
        tokens.append(line)
    if not tokens:
        raise InvalidArgument(f"{flag}: the file holds no token (one token per line; '#' starts a comment)")
    return tokens


def read_token_file(path: Path, flag: str) -> list[bytes]:
    """The tokens of ``path``; InvalidArgument naming the flag, the file and the problem otherwise."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InvalidArgument(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{flag} {path}: is a folder, not a file") from None
    except OSError as exc:
        raise InvalidArgument(f"{flag} {path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidArgument(f"{flag} {path}: larger than {MAX_FILE_BYTES} bytes; is it a token file?")
    return parse_tokens(data, f"{flag} {path}")


class TokenFile:
    """The tokens of one token file (see the module's docstring)."""

    def __init__(
        self, path: Path, flag: str = "--auth-token-file", check_seconds: float = CHECK_SECONDS
    ) -> None:
        self.path = path
        self.flag = flag
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._digests = tuple(_digest(t) for t in read_token_file(path, flag))
        self._checked = time.monotonic()

    @property
    def count(self) -> int:
        return len(self._digests)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self) -> bool:
        """Read the file now: True when its tokens are in force, False (logged) when it could not be read."""
        with self._lock:
            self._checked = time.monotonic()
            self._stamp = self._file_stamp()
            try:
                tokens = read_token_file(self.path, self.flag)
            except InvalidArgument as exc:
                log.error("%s; the %d token(s) read before stay in force", exc.message, len(self._digests))
                return False
            self._digests = tuple(_digest(t) for t in tokens)
        log.info("%s %s: %d token(s) in force", self.flag, self.path, len(tokens))
        return True

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_seconds:
            return
        self._checked = now
        if self._file_stamp() != self._stamp:
            self.reload()

    def allows(self, presented: bytes | None) -> bool:
        """Whether ``presented`` is one of the tokens, compared in constant time with every one."""
        self._reload_if_changed()
        if presented is None:
            return False
        digest = _digest(presented)
        found = False
        for known in self._digests:  # no early exit: every digest is compared
            found |= hmac.compare_digest(digest, known)
        return found

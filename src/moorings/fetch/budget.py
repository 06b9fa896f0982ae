"""What one request's fetches may still use: bytes and time, shared by the threads that fetch.

Every fetch reads its object in chunks through :func:`read_limited`, which takes
each chunk out of the request's byte budget before keeping it (so memory stays
within ``--max-input-url-bytes`` for the whole request) and checks the clock and
the request's cancellation between chunks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from moorings.errors import DeadlineExceeded, MooringsError, PayloadTooLarge

CHUNK_BYTES = 64 * 1024


class Cancelled(MooringsError):
    """The request ended (another fetch failed, or the client left): stop fetching."""


class Budget:
    def __init__(self, max_bytes: int, timeout_seconds: float, deadline: float | None = None) -> None:
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        now = time.monotonic()
        #: the request's own deadline ends the fetches when it comes before the fetch timeout
        self.request_deadline_first = deadline is not None and deadline < now + timeout_seconds
        self.until = now + timeout_seconds
        if deadline is not None and self.request_deadline_first:
            self.until = deadline
        self._left = max_bytes
        self._lock = threading.Lock()
        self.cancelled = False

    def seconds_left(self, shown: str) -> float:
        """Seconds until the fetches must end; DeadlineExceeded (504) once they are up."""
        if self.cancelled:
            raise Cancelled("the request ended")
        left = self.until - time.monotonic()
        if left <= 0:
            raise self.timed_out(shown)
        return left

    def timed_out(self, shown: str) -> DeadlineExceeded:
        if self.request_deadline_first:
            return DeadlineExceeded(f"the request's deadline passed while fetching input URL {shown}")
        return DeadlineExceeded(
            f"input URL {shown}: the object did not arrive within {self.timeout_seconds:g} s "
            "(--input-url-timeout-seconds)"
        )

    def take(self, size: int, shown: str) -> None:
        """Count ``size`` more bytes; PayloadTooLarge (413) when the request's budget is spent."""
        with self._lock:
            if size > self._left:
                raise self.too_large(shown)
            self._left -= size

    def check_fits(self, size: int, shown: str) -> None:
        """PayloadTooLarge (413) when ``size`` more bytes would not fit (nothing is counted)."""
        with self._lock:
            if size > self._left:
                raise self.too_large(shown)

    def too_large(self, shown: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"input URL {shown}: the objects of this request's input URLs are larger than "
            f"{self.max_bytes} bytes (--max-input-url-bytes)"
        )


def read_limited(read: Callable[[int], bytes], declared: int | None, budget: Budget, shown: str) -> bytes:
    """Read a body with ``read(n)`` until it returns b"", within ``budget``.

    ``declared``: the length the answer announced (Content-Length), refused at once when it is
    larger than what the budget has left; the bytes read are counted either way.
    """
    if declared is not None:
        budget.check_fits(declared, shown)
    chunks: list[bytes] = []
    while True:
        budget.seconds_left(shown)
        chunk = read(CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        budget.take(len(chunk), shown)
        chunks.append(chunk)

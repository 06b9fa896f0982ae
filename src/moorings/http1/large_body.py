"""A large request body, read from the socket past the parser into one buffer of its own.

Bodies of at least ``LARGE_BODY`` bytes (by Content-Length) whose head starts at the first byte
being parsed are read this way: the parser stops after the head (whose end is found by
``end_of_head``), and the body's bytes go into ``LargeRequest.body``, straight from the socket when
the buffer has room for a whole read, else copied from the shared read buffer.
"""

from __future__ import annotations

#: bodies of at least this many bytes (by Content-Length) are read past the parser into one buffer
LARGE_BODY = 64 * 1024
#: a large body's next read goes straight into its buffer when the buffer has this much room (or room
#: for all the body still lacks); smaller reads go into the shared buffer and are copied from there
STRAIGHT_READ = 16 * 1024


def end_of_head(buffer: bytearray, start: int, end: int) -> int | None:
    """Where the head that starts at ``start`` ends (after its CRLF CRLF); None when not certain.

    llhttp refuses bare LF line ends and folded header lines before a head completes, so the head it
    has just completed ends at the first CRLF CRLF; checked here all the same.
    """
    head_end = buffer.find(b"\r\n\r\n", start, end) + 4
    if head_end < 4 or buffer.count(b"\n", start, head_end) != buffer.count(b"\r\n", start, head_end):
        return None
    return head_end


class LargeRequest:
    """A request whose head is parsed and whose large body is arriving into ``body``.

    ``body`` holds nothing until body bytes arrive, then grows with them: to twice the bytes arrived
    when full, never past ``length``. A declared length alone makes the server hold nothing.
    """

    __slots__ = ("body", "filled", "http10", "keep_alive", "length", "method")

    def __init__(self, length: int, method: bytes, keep_alive: bool, http10: bool) -> None:
        self.length = length
        self.body = bytearray()
        self.filled = 0
        self.method = method
        self.keep_alive = keep_alive
        self.http10 = http10

    def room(self) -> memoryview | None:
        """The buffer's free part when the next read may go straight into it; None: read, then ``take``."""
        free = len(self.body) - self.filled
        if free >= STRAIGHT_READ or (free and free == self.length - self.filled):
            return memoryview(self.body)[self.filled :]
        return None

    def take(self, data: memoryview) -> int:
        """Copy as much of ``data`` as the body still lacks, growing the buffer; how many bytes that was."""
        size = min(len(data), self.length - self.filled)
        end = self.filled + size
        if end > len(self.body):
            self.body += bytes(min(self.length, 2 * end) - len(self.body))
        self.body[self.filled : end] = data[:size]
        self.filled = end
        return size

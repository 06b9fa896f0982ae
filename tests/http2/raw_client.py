"""A frame-level HTTP/2 client over a blocking socket, for driving the server into every corner."""

from __future__ import annotations

import socket
import struct
import time

import hpack

from moorings.http2 import frames as f

Frame = tuple[int, int, int, bytes]  # kind, flags, stream id, payload


class RawClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self._buffer = b""
        self.server_settings: dict[int, int] = {}

    def close(self) -> None:
        self.sock.close()

    def send(self, kind: int, flags: int, stream_id: int, payload: bytes = b"") -> None:
        self.sock.sendall(f.frame(kind, flags, stream_id, payload))

    def handshake(self, settings: dict[int, int] | None = None) -> None:
        """Preface and SETTINGS both ways; the server's settings land in ``server_settings``."""
        self.sock.sendall(f.PREFACE + f.settings(settings or {}))
        kind, flags, _, payload = self.read()
        assert kind == f.SETTINGS and not flags & f.ACK
        self.server_settings = dict(f.parse_settings(payload))
        self.send(f.SETTINGS, f.ACK, 0)

    def headers_block(self, path: bytes = b"/echo", extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", path), (b":authority", b"t")]
        return bytes(self.encoder.encode(fields + (extra or [])))

    def request(self, stream_id: int, body: bytes = b"", path: bytes = b"/echo") -> None:
        block = self.headers_block(path)
        self.send(f.HEADERS, f.END_HEADERS | (0 if body else f.END_STREAM), stream_id, block)
        if body:
            self.send(f.DATA, f.END_STREAM, stream_id, body)

    def read(self, timeout: float = 5.0) -> Frame:
        """The next frame; TimeoutError if none comes, EOFError if the server closed."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self._buffer) >= f.HEAD_SIZE:
                length_type, flags, stream_id = f.HEAD.unpack_from(self._buffer)
                end = f.HEAD_SIZE + (length_type >> 8)
                if len(self._buffer) >= end:
                    payload, self._buffer = self._buffer[f.HEAD_SIZE : end], self._buffer[end:]
                    return length_type & 0xFF, flags, stream_id & 0x7FFFFFFF, payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("no frame") from None
            if not chunk:
                raise EOFError("the server closed the connection")
            self._buffer += chunk

    def read_until(self, kind: int, stream_id: int | None = None, timeout: float = 5.0) -> list[Frame]:
        """Frames up to and including the first of ``kind`` (on ``stream_id`` if given); PINGs answered."""
        seen = []
        while True:
            frame = self.read(timeout)
            seen.append(frame)
            if frame[0] == kind and (stream_id is None or frame[2] == stream_id):
                return seen

    def response(
        self, stream_id: int, timeout: float = 5.0
    ) -> tuple[list[tuple[str, str]], bytes, list[tuple[str, str]]]:
        """Headers, body and trailers of one stream, read until it ends."""
        headers: list[tuple[str, str]] = []
        trailers: list[tuple[str, str]] = []
        body = b""
        while True:
            kind, flags, sid, payload = self.read(timeout)
            if sid != stream_id:
                continue
            if kind == f.HEADERS:
                decoded = [(str(k), str(v)) for k, v in self.decoder.decode(payload)]
                if headers:
                    trailers = decoded
                else:
                    headers = decoded
            elif kind == f.DATA:
                body += payload
            elif kind == f.RST_STREAM:
                raise AssertionError(f"stream reset with code {f.u32(payload)}")
            if flags & f.END_STREAM and kind in (f.HEADERS, f.DATA):
                return headers, body, trailers

    def goaway_code(self, timeout: float = 5.0) -> int:
        """Read until GOAWAY; its error code (and the connection must then close)."""
        frames = self.read_until(f.GOAWAY, timeout=timeout)
        code = struct.unpack(">I", frames[-1][3][4:8])[0]
        return int(code)

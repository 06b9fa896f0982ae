"""What one HTTP/2 connection may ask of the server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: largest request body per stream; a larger one is answered by the handler as too large
    max_body_bytes: int = 64 * 1024 * 1024 + 5
    #: streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused
    max_concurrent_streams: int = 256
    #: decoded header list per request (SETTINGS_MAX_HEADER_LIST_SIZE), and the raw block bound
    max_header_list_bytes: int = 64 * 1024
    #: receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE)
    stream_window: int = 1 << 20
    #: receive window of the connection, shared by its streams
    connection_window: int = 16 << 20
    #: request bodies that keep flowing at once per connection; a later stream gets its first
    #: window's worth, then waits for one of these to arrive whole: a connection buffers at most
    #: this many bodies plus one window per other stream
    flowing_bodies: int = 4
    #: a client must send the connection preface within this long
    preface_seconds: float = 10.0
    #: streams the client may reset while they run, per second and in a burst; beyond it
    #: the connection ends with ENHANCE_YOUR_CALM (each costs a started call: "rapid reset")
    resets_per_second: float = 1000.0
    reset_burst: int = 2000

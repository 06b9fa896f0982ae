"""What one HTTP/2 connection may ask of the server, and how long it may take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: largest request body per stream; a larger one is answered by the handler as too large
    max_body_bytes: int = 64 * 1024 * 1024 + 5
    #: streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused
    max_concurrent_streams: int = 256
    #: decoded header list per request (SETTINGS_MAX_HEADER_LIST_SIZE: names, values and 32 bytes
    #: per field), and the bound on a header block's encoded bytes, all its frames together
    max_header_list_bytes: int = 16 * 1024
    #: header fields per block, counted in the encoded block before it is decoded
    max_header_fields: int = 128
    #: frames one header block may span (HEADERS and its CONTINUATION frames)
    max_header_frames: int = 16
    #: frames that ask for no work (PRIORITY, PING, SETTINGS, unknown types, empty DATA, frames
    #: on closed streams, ...), per second and in a burst; beyond it: GOAWAY ENHANCE_YOUR_CALM
    idle_frames_per_second: float = 500.0
    idle_frame_burst: int = 1000
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
    #: and acknowledge the server's SETTINGS within this long (else GOAWAY SETTINGS_TIMEOUT)
    settings_ack_seconds: float = 10.0
    #: a connection with no open stream for this long gets GOAWAY and is closed
    idle_seconds: float = 60.0
    #: a request whose body has not fully arrived this long after its HEADERS is reset (CANCEL)
    #: and what arrived of it is dropped
    request_seconds: float = 60.0
    #: an answer that the client's flow-control windows have held back this long is reset (CANCEL)
    send_stall_seconds: float = 60.0
    #: streams the client may reset while they run, per second and in a burst; beyond it
    #: the connection ends with ENHANCE_YOUR_CALM (each costs a started call: "rapid reset")
    resets_per_second: float = 1000.0
    reset_burst: int = 2000

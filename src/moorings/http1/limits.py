"""What one connection may send and how long it may sit idle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: largest request body; beyond it the answer is 413 and the connection closes
    max_body_bytes: int = 64 * 1024 * 1024
    #: request line plus headers; beyond it the answer is 431 and the connection closes
    max_head_bytes: int = 64 * 1024
    #: header fields (trailers included); beyond it the answer is 431 and the connection closes (each
    #: field costs the server far more memory than its few bytes on the wire)
    max_headers: int = 256
    #: the request-target (path and query); beyond it the answer is 414 and the connection closes
    max_url_bytes: int = 8 * 1024
    #: a chunked body may have this many chunks of any size ...
    free_chunks: int = 4096
    #: ... and more only while its chunks average at least this many bytes; otherwise 400 and close
    min_chunk_bytes: int = 1024
    #: an idle keep-alive connection is closed after this long
    keep_alive_seconds: float = 5.0
    #: a request whose head or body has not fully arrived after this long gets 408
    request_seconds: float = 60.0
    #: requests read ahead of their answers on one connection (pipelining) before reading pauses
    max_pipelined: int = 32
    #: reading also pauses while the bodies of requests waiting for their turn hold more than this
    max_waiting_body_bytes: int = 64 * 1024 * 1024

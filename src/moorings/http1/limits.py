"""What one connection may send and how long it may sit idle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: largest request body; beyond it the answer is 413 and the connection closes
    max_body_bytes: int = 64 * 1024 * 1024
    #: request line plus headers; beyond it the answer is 431 and the connection closes
    max_head_bytes: int = 64 * 1024
    #: an idle keep-alive connection is closed after this long
    keep_alive_seconds: float = 5.0
    #: a request whose head or body has not fully arrived after this long gets 408
    request_seconds: float = 60.0
    #: requests read ahead of their answers on one connection (pipelining) before reading pauses
    max_pipelined: int = 32

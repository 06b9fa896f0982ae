"""Binding TCP sockets, for the front ends and for ``--workers`` (one address, several sockets)."""

from __future__ import annotations

import errno
import socket


def bound_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port``, not yet listening (``host`` may be a bracketed IPv6 literal)."""
    host = host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound now because something listens there (port 0: never)."""
    if port == 0:
        return False
    try:
        bound_socket(host, port).close()
    except OSError as exc:
        return exc.errno == errno.EADDRINUSE
    return False

"""Moorings' own HTTP/2 server: the transport under the gRPC front end (``--grpc-server moorings``)."""

from moorings.http2.connection import Http2Connection
from moorings.http2.limits import Limits
from moorings.http2.server import Http2Server, listening_socket
from moorings.http2.stream import Stream

__all__ = ["Http2Connection", "Http2Server", "Limits", "Stream", "listening_socket"]

"""Moorings' own HTTP/1.1 server: httptools parses, asyncio protocols answer, no ASGI in between."""

from moorings.http1.limits import Limits
from moorings.http1.server import HttpServer

__all__ = ["HttpServer", "Limits"]

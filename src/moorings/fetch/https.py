"""Fetching an https (or explicitly allowed http) URL: presigned URLs and public objects.

The URL is sent as it came, with no credentials of the server's: a presigned URL
carries its own. The host is resolved here and the connection made to the address
that :func:`~moorings.fetch.allowlist.pick_address` checked (TLS still verifies the
certificate against the host name), so a name cannot resolve to a public address
for the check and a private one for the connection. Redirects are not followed;
content is read as sent (``Accept-Encoding: identity``, nothing decompressed), in
chunks within the request's byte and time budget. Certificates are checked against
the system's CAs, or ``AWS_CA_BUNDLE`` when it is set (as boto3 does).
"""

from __future__ import annotations

import os
import socket
import ssl

import urllib3
from urllib3 import exceptions as url_errors

from moorings.errors import InvalidArgument, MooringsError
from moorings.fetch.allowlist import EndpointRule, NotAllowed, pick_address
from moorings.fetch.budget import Budget, read_limited
from moorings.fetch.errors import UpstreamError
from moorings.fetch.urls import HttpUrl


def resolve(url: HttpUrl) -> list[str]:
    """The addresses ``url``'s host resolves to; InvalidArgument when it does not."""
    try:
        infos = socket.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidArgument(f"input URL {url.shown}: the host name does not resolve") from None
    return [str(info[4][0]) for info in infos]


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)


def fetch_url(url: HttpUrl, rule: EndpointRule, budget: Budget) -> bytes:
    """The body of a GET of ``url``; 400 for a redirect, a missing object, a refused address or
    access; 413 over the byte budget; 504 past the time budget; 502 when the endpoint fails."""
    address = pick_address(rule, url, resolve(url))
    seconds = budget.seconds_left(url.shown)
    timeout = urllib3.Timeout(connect=seconds, read=seconds)
    pool: urllib3.HTTPConnectionPool
    if url.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, url.port, timeout=timeout, retries=False, assert_hostname=url.host,
            server_hostname=url.host, ssl_context=_tls_context(),
        )  # fmt: skip
    else:
        pool = urllib3.HTTPConnectionPool(address, url.port, timeout=timeout, retries=False)
    headers = {"Host": url.host_header, "Accept-Encoding": "identity", "User-Agent": "moorings"}
    try:
        with pool:
            answer = pool.urlopen(
                "GET", url.target, headers=headers, redirect=False, retries=False,
                preload_content=False, decode_content=False, assert_same_host=False,
            )  # fmt: skip
            try:
                _check_status(answer.status, url)
                length = answer.headers.get("content-length")
                declared = int(length) if length is not None and length.isdigit() else None
                # read1: what has arrived, up to n bytes (read(n) waits for all n)
                return read_limited(
                    lambda n: answer.read1(n, decode_content=False), declared, budget, url.shown
                )
            finally:
                answer.release_conn()
    except MooringsError:
        raise
    except url_errors.NewConnectionError:  # before its base class, ConnectTimeoutError
        raise UpstreamError(f"input URL {url.shown}: could not connect to the endpoint") from None
    except (url_errors.ConnectTimeoutError, url_errors.ReadTimeoutError):
        raise budget.timed_out(url.shown) from None
    except url_errors.SSLError:
        raise UpstreamError(f"input URL {url.shown}: the TLS handshake failed (certificate?)") from None
    except (url_errors.HTTPError, OSError) as exc:
        raise UpstreamError(f"input URL {url.shown}: fetching failed ({type(exc).__name__})") from None


def _check_status(status: int, url: HttpUrl) -> None:
    if status == 200:
        return
    if 300 <= status < 400:
        raise NotAllowed(f"input URL {url.shown}: the endpoint answered a redirect ({status}), not followed")
    if status in (404, 410):
        raise InvalidArgument(f"input URL {url.shown_object!r}: no such object ({status})")
    if status in (401, 403):
        raise InvalidArgument(
            f"input URL {url.shown}: access denied ({status}); a presigned URL may have expired"
        )
    if 400 <= status < 500:
        raise InvalidArgument(f"input URL {url.shown}: the endpoint answered {status}")
    raise UpstreamError(f"input URL {url.shown}: the endpoint answered {status}")

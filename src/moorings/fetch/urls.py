"""Reading the URL of an input reference: ``s3://bucket/key`` or ``http(s)://host[:port]/path?query``.

Pure: no network. An ``s3://`` URL is read as the AWS command line reads it: the
bucket up to the first ``/`` and the key, literally, after it (no percent-decoding,
so a key may hold spaces, ``?``, ``#`` and any Unicode). An http(s) URL is sent as
it came (a presigned URL's signature covers its exact path and query); characters
that may not travel in a request line (spaces, non-ASCII) are percent-encoded.

Error messages show :attr:`S3Url.shown` / :attr:`HttpUrl.shown` (scheme and host,
or the bucket): never a query string (a presigned URL's credentials) or user info.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from moorings.errors import InvalidArgument

#: the longest URL read (presigned URLs with session tokens run to 2 KB or so)
MAX_URL_CHARS = 8192
#: S3's longest key, in UTF-8 bytes
MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: what may stay as it is in a request target: unreserved, sub-delims, ':' '@' '/' '?' and '%' escapes
_TARGET_SAFE = "/?:@!$&'()*+,;=-._~%"


@dataclass(frozen=True, slots=True)
class S3Url:
    bucket: str
    key: str

    @property
    def shown(self) -> str:
        return f"s3://{self.bucket}"

    @property
    def shown_object(self) -> str:
        """The bucket and the key (cut to 200 characters), for "no such object"."""
        key = self.key if len(self.key) <= 200 else self.key[:200] + "..."
        return f"s3://{self.bucket}/{key}"


@dataclass(frozen=True, slots=True)
class HttpUrl:
    scheme: str
    #: lower case; an IPv6 address without brackets
    host: str
    port: int
    #: the request target: path and query, as sent
    target: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def shown(self) -> str:
        return f"{self.scheme}://{self.host_header}"

    @property
    def shown_object(self) -> str:
        """Scheme, host and path (no query), cut to 200 characters, for "no such object"."""
        path = self.target.split("?", 1)[0]
        path = path if len(path) <= 200 else path[:200] + "..."
        return f"{self.scheme}://{self.host_header}{path}"


InputUrl = S3Url | HttpUrl


def parse_url(text: object) -> InputUrl:
    """The URL of a ``{"url": ...}`` value; InvalidArgument naming what is wrong (never the query)."""
    if not isinstance(text, str):
        raise InvalidArgument('an input URL ({"url": ...}) must be a string')
    if len(text) > MAX_URL_CHARS:
        raise InvalidArgument(f"an input URL is longer than {MAX_URL_CHARS} characters")
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("s3", "https", "http"):
        shown = scheme[:20] if sep else "none"
        raise InvalidArgument(f"input URLs must start with s3:// or https:// (scheme: {shown!r})")
    if scheme == "s3":
        return _parse_s3(rest)
    return _parse_http(scheme, text)


def _parse_s3(rest: str) -> S3Url:
    bucket, _, key = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise InvalidArgument(
            f"input URL s3://{bucket[:70]}: a bucket name is 3 to 63 lower-case letters, digits, '.' or '-'"
        )
    if not key:
        raise InvalidArgument(f"input URL s3://{bucket} names no object (s3://bucket/key)")
    check_key(key, f"s3://{bucket}")
    return S3Url(bucket, key)


def check_key(key: str, shown: str) -> None:
    """A key is at most 1024 UTF-8 bytes, with no '.' or '..' segment (which some stores and
    proxies fold away, so that the object read would not be the one an allowed prefix names)."""
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        raise InvalidArgument(f"input URL {shown}: the key is not valid Unicode") from None
    if size > MAX_KEY_BYTES:
        raise InvalidArgument(f"input URL {shown}: the key is longer than {MAX_KEY_BYTES} bytes")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise InvalidArgument(f"input URL {shown}: the key has a '.' or '..' segment")


def _parse_http(scheme: str, text: str) -> HttpUrl:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidArgument(f"input URL {scheme}://...: the host or port is not valid") from None
    netloc = parts.netloc
    if "@" in netloc:
        raise InvalidArgument(f"input URL {scheme}://...: a user name or password in the URL is not accepted")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidArgument(f"input URL {scheme}://: no host")
    host = _ascii_host(host, scheme)
    if port is None:
        port = 443 if scheme == "https" else 80
    if port == 0:
        raise InvalidArgument(f"input URL {scheme}://{host}: port 0")
    path = parts.path or "/"
    target = quote(path, safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_TARGET_SAFE)
    return HttpUrl(scheme, host, port, target)


def _ascii_host(host: str, scheme: str) -> str:
    """The host as it goes into DNS: an IP address, or a name in IDNA (xn--) form."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidArgument(f"input URL {scheme}://...: the host name is not valid") from None
    if not re.fullmatch(r"[a-z0-9.-]+", ascii_host):
        raise InvalidArgument(f"input URL {scheme}://...: the host name is not valid")
    return ascii_host

"""Which input URLs the operator allows (``--allow-input-url``), and which addresses may be dialled.

Pure: no network, no clock. An entry is one of::

    s3://bucket                 every object of the bucket
    s3://bucket/prefix          the objects under prefix/ (a folder: "images" allows "images/a.jpg",
                                not "images2/a.jpg")
    https://host[:port]         URLs of that endpoint (presigned URLs, public objects)
    https://*.example.com[:port] URLs of any host under example.com
    http://host[:port]          the same over plain HTTP (a local or test endpoint; named explicitly)

Nothing is allowed by default. An endpoint is reached only at public addresses,
except an endpoint written as an IP address (``http://127.0.0.1:9000``), which
is reached at that address whatever its range: a host name can resolve anywhere,
the address an operator wrote cannot.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from moorings.errors import InvalidArgument
from moorings.fetch.urls import HttpUrl, InputUrl, S3Url, check_key, parse_url

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class NotAllowed(InvalidArgument):
    """A 400: the URL is outside the allowlist, or its host resolves to an address not allowed."""


@dataclass(frozen=True, slots=True)
class BucketRule:
    bucket: str
    #: "" (the whole bucket) or a folder ending in "/"
    prefix: str

    def allows(self, url: S3Url) -> bool:
        return url.bucket == self.bucket and url.key.startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class EndpointRule:
    scheme: str
    #: a host name, an IP address, or "*.domain" (any name under domain)
    host: str
    port: int

    @property
    def by_address(self) -> bool:
        """Written as an IP address: that address may be dialled whatever its range."""
        return _ip(self.host) is not None

    def allows(self, url: HttpUrl) -> bool:
        if url.scheme != self.scheme or url.port != self.port:
            return False
        if self.host.startswith("*."):
            return url.host.endswith(self.host[1:]) and _ip(url.host) is None
        return url.host == self.host


Rule = BucketRule | EndpointRule


def parse_rule(text: str) -> Rule:
    """One ``--allow-input-url`` entry; InvalidArgument saying what an entry looks like."""
    entry = text.strip()
    if entry.lower().startswith("s3://"):
        bucket, _, prefix = entry[5:].partition("/")
        url = parse_url(f"s3://{bucket}/x")  # checks the bucket name
        assert isinstance(url, S3Url)
        if prefix:
            check_key(prefix, f"s3://{bucket}")
            if not prefix.endswith("/"):
                prefix += "/"
        return BucketRule(url.bucket, prefix)
    scheme = entry.partition("://")[0].lower()
    if scheme not in ("https", "http"):
        raise InvalidArgument(
            f"--allow-input-url {entry[:80]!r}: use s3://bucket[/prefix] or https://host[:port]"
        )
    wildcard = "://*." in entry
    parsed = parse_url(entry.replace("://*.", "://wildcard.", 1) if wildcard else entry)
    assert isinstance(parsed, HttpUrl)
    if parsed.target not in ("/", "") or entry.rstrip("/").count("/") > 2 or "?" in entry:
        raise InvalidArgument(
            f"--allow-input-url {entry[:80]!r}: an endpoint is scheme://host[:port], with no path"
        )
    host = "*" + parsed.host[len("wildcard") :] if wildcard else parsed.host
    return EndpointRule(parsed.scheme, host, parsed.port)


class AllowList:
    """The allowed buckets and endpoints; ``check`` refuses everything else."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules = tuple(rules)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        return cls(parse_rule(entry) for entry in entries)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def check(self, url: InputUrl) -> Rule:
        """The rule that allows ``url``; NotAllowed (400) naming its scheme and host otherwise."""
        for rule in self.rules:
            if isinstance(rule, BucketRule) and isinstance(url, S3Url) and rule.allows(url):
                return rule
            if isinstance(rule, EndpointRule) and isinstance(url, HttpUrl) and rule.allows(url):
                return rule
        if not self.rules:
            raise NotAllowed(f"input URLs are not allowed on this server ({url.shown})")
        where = "this bucket and prefix" if isinstance(url, S3Url) else "this endpoint"
        raise NotAllowed(
            f"input URLs are not allowed on this server for {url.shown}: "
            f"{where} is not among those the server reads (--allow-input-url)"
        )


def refused_address(address: IpAddress) -> str | None:
    """Why a host name's address may not be dialled ("a loopback address", ...), or None when public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def pick_address(rule: EndpointRule, url: HttpUrl, addresses: Iterable[str]) -> str:
    """The address to dial among those ``url``'s host resolved to.

    An endpoint written as an IP address is dialled there. For a host name every
    address must be public (an answer that mixes in a private one is refused
    whole), so that a name cannot lead the server into its own network.
    """
    found = [a for a in (_ip(text) for text in addresses) if a is not None]
    if not found:
        raise NotAllowed(f"input URL {url.shown}: the host has no address")
    if rule.by_address:
        return str(found[0])
    for address in found:
        reason = refused_address(address)
        if reason is not None:
            raise NotAllowed(
                f"input URL {url.shown}: the host resolves to {reason}, which is not allowed "
                "(allow the endpoint by its IP address to reach it)"
            )
    return str(found[0])


def _ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None

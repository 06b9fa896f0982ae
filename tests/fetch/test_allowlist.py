from __future__ import annotations

import ipaddress

import pytest

from moorings.errors import InvalidArgument
from moorings.fetch.allowlist import (
    AllowList,
    BucketRule,
    EndpointRule,
    NotAllowed,
    parse_rule,
    pick_address,
    refused_address,
)
from moorings.fetch.urls import HttpUrl, parse_url


def test_parse_rules() -> None:
    assert parse_rule("s3://models") == BucketRule("models", "")
    assert parse_rule("s3://models/") == BucketRule("models", "")
    assert parse_rule("s3://models/images") == BucketRule("models", "images/")
    assert parse_rule("s3://models/images/") == BucketRule("models", "images/")
    assert parse_rule("https://S3.example.com") == EndpointRule("https", "s3.example.com", 443)
    assert parse_rule("https://s3.example.com:8443/") == EndpointRule("https", "s3.example.com", 8443)
    assert parse_rule("http://127.0.0.1:9000") == EndpointRule("http", "127.0.0.1", 9000)
    assert parse_rule("https://*.s3.amazonaws.com") == EndpointRule("https", "*.s3.amazonaws.com", 443)


@pytest.mark.parametrize(
    "entry",
    ["ftp://x", "x", "https://host/path", "https://host?q=1", "s3://ab", "s3://b/../x", "https://u@h"],
)
def test_bad_rules(entry: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_rule(entry)


def test_nothing_allowed_by_default() -> None:
    with pytest.raises(NotAllowed) as caught:
        AllowList().check(parse_url("s3://bucket/key"))
    assert caught.value.message == "input URLs are not allowed on this server (s3://bucket)"
    assert caught.value.http_status == 400
    with pytest.raises(NotAllowed) as caught:
        AllowList().check(parse_url("https://h.example/b/k?X-Amz-Credential=AKIA&X-Amz-Signature=s"))
    assert "https://h.example" in caught.value.message
    assert "AKIA" not in caught.value.message and "/b/k" not in caught.value.message


def test_buckets_and_prefixes() -> None:
    allow = AllowList.parse(["s3://models/images", "s3://open"])
    assert allow.check(parse_url("s3://models/images/cat.jpg")) == BucketRule("models", "images/")
    assert allow.check(parse_url("s3://open/any/thing")) == BucketRule("open", "")
    for refused in ("s3://models/images2/cat.jpg", "s3://models/images", "s3://models/x", "s3://other/k"):
        with pytest.raises(NotAllowed, match="not among those the server reads"):
            allow.check(parse_url(refused))


def test_endpoints_match_scheme_host_and_port() -> None:
    allow = AllowList.parse(["https://s3.example.com", "http://127.0.0.1:9000", "https://*.r2.example"])
    assert allow.check(parse_url("https://s3.example.com/b/k?sig=1"))
    assert allow.check(parse_url("https://s3.example.com:443/b/k"))
    assert allow.check(parse_url("http://127.0.0.1:9000/b/k"))
    assert allow.check(parse_url("https://acct.r2.example/b/k"))
    for refused in (
        "http://s3.example.com/b/k",  # plain http where https is allowed
        "https://s3.example.com:8443/b/k",
        "https://evil-s3.example.com/b/k",
        "https://s3.example.com.evil.test/b/k",
        "https://127.0.0.1:9000/b/k",
        "http://127.0.0.1:9001/b/k",
        "https://r2.example/b/k",  # the wildcard's bare domain
        "s3://s3.example.com/k",
    ):
        with pytest.raises(NotAllowed):
            allow.check(parse_url(refused))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("100.64.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("0.0.0.0", "reserved"),
        ("224.0.0.1", "multicast"),
        ("fc00::1", "private"),
    ],
)
def test_refused_addresses(address: str, reason: str) -> None:
    found = refused_address(ipaddress.ip_address(address))
    assert found is not None and reason in found


def test_public_addresses() -> None:
    for address in ("93.184.216.34", "8.8.8.8", "2606:4700::1111"):
        assert refused_address(ipaddress.ip_address(address)) is None


def test_pick_address() -> None:
    by_name = EndpointRule("https", "s3.example.com", 443)
    url = parse_url("https://s3.example.com/b/k")
    assert isinstance(url, HttpUrl)
    assert pick_address(by_name, url, ["93.184.216.34"]) == "93.184.216.34"
    with pytest.raises(NotAllowed, match="resolves to a loopback address"):
        pick_address(by_name, url, ["127.0.0.1"])
    with pytest.raises(NotAllowed, match="private"):  # a mixed answer is refused whole
        pick_address(by_name, url, ["93.184.216.34", "10.0.0.1"])
    with pytest.raises(NotAllowed, match="no address"):
        pick_address(by_name, url, [])
    by_address = EndpointRule("http", "127.0.0.1", 9000)
    local = parse_url("http://127.0.0.1:9000/b/k")
    assert isinstance(local, HttpUrl)
    assert pick_address(by_address, local, ["127.0.0.1"]) == "127.0.0.1"

from __future__ import annotations

import pytest

from moorings.errors import InvalidArgument
from moorings.fetch.urls import HttpUrl, S3Url, parse_url


def test_s3_keys_are_literal() -> None:
    url = parse_url("s3://my-bucket/photos/a cat?.jpg#1")
    assert url == S3Url("my-bucket", "photos/a cat?.jpg#1")
    assert url.shown == "s3://my-bucket"
    assert parse_url("S3://b.c-d/ünï/%20") == S3Url("b.c-d", "ünï/%20")


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("s3://ab/key", "bucket name"),
        ("s3://Upper/key", "bucket name"),
        ("s3://bucket", "names no object"),
        ("s3://bucket/", "names no object"),
        ("s3://bucket/a/../b", "'..'"),
        ("s3://bucket/./b", "'.'"),
        ("s3://bucket/" + "k" * 1025, "longer than 1024"),
        ("ftp://host/x", "scheme: 'ftp'"),
        ("file:///etc/passwd", "scheme: 'file'"),
        ("/etc/passwd", "scheme: 'none'"),
        ("https://user:secret@host/x", "user name or password"),
        ("https:///x", "no host"),
        ("https://host:99999/x", "not valid"),
        ("https://ho st/x", "not valid"),
    ],
)
def test_bad_urls_are_named(text: str, part: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_url(text)
    assert part in caught.value.message
    assert "secret" not in caught.value.message


def test_not_a_string() -> None:
    with pytest.raises(InvalidArgument, match="must be a string"):
        parse_url(["s3://b/k"])


def test_http_urls_keep_their_target() -> None:
    url = parse_url("https://S3.Example.com/bucket/a%20b%3F.jpg?X-Amz-Signature=abc%2F&x=1")
    assert url == HttpUrl("https", "s3.example.com", 443, "/bucket/a%20b%3F.jpg?X-Amz-Signature=abc%2F&x=1")
    assert url.shown == "https://s3.example.com"
    assert "Signature" not in url.shown_object and url.shown_object.endswith("/bucket/a%20b%3F.jpg")


def test_http_urls_encode_what_cannot_travel() -> None:
    url = parse_url("http://127.0.0.1:9000/b/a cat ü.jpg")
    assert url == HttpUrl("http", "127.0.0.1", 9000, "/b/a%20cat%20%C3%BC.jpg")
    assert url.shown == "http://127.0.0.1:9000"


def test_ipv6_and_idna_hosts() -> None:
    url = parse_url("https://[::1]:8443/x")
    assert isinstance(url, HttpUrl) and url.host == "::1" and url.host_header == "[::1]:8443"
    url = parse_url("https://bücher.example/x")
    assert isinstance(url, HttpUrl) and url.host == "xn--bcher-kva.example"


def test_overlong_url() -> None:
    with pytest.raises(InvalidArgument, match="longer than 8192"):
        parse_url("https://h/" + "a" * 9000)

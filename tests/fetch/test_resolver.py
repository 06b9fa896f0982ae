"""InputFetcher against a real S3-compatible server (moto's, on 127.0.0.1) and local HTTP servers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from moorings.errors import DeadlineExceeded, InvalidArgument, MooringsError, PayloadTooLarge
from moorings.fetch.resolver import InputFetcher
from moorings.fetch.settings import FetchSettings
from tests.support.s3 import S3Server, body_of, dribble, http_server, redirect_to, self_signed

KEYS = ["plain.bin", "a cat ü.jpg", "what?x=1&y=2#frag", "folder/späce %20 + key"]


@pytest.fixture(scope="module")
def bucket(s3: S3Server) -> dict[str, bytes]:
    client = s3.client()
    client.create_bucket(Bucket="inputs")
    client.create_bucket(Bucket="private")
    objects = {key: f"object {i} {key}".encode() + bytes(range(256)) for i, key in enumerate(KEYS)}
    for key, data in objects.items():
        client.put_object(Bucket="inputs", Key=key, Body=data)
    client.put_object(Bucket="inputs", Key="big.bin", Body=b"x" * 300_000)
    client.put_object(Bucket="private", Key="secret", Body=b"secret")
    return objects


def fetcher(s3: S3Server, *allowed: str, **settings: Any) -> InputFetcher:
    return InputFetcher(FetchSettings(allowed=allowed, s3_endpoint_url=s3.endpoint, **settings))


def resolve(fetcher: InputFetcher, body: Any, deadline: float | None = None) -> Any:
    prepare = fetcher.prepare(b'"url"', body)
    assert prepare is not None
    asyncio.run(prepare(deadline))
    return body


def test_s3_urls_resolve_to_the_right_objects(s3: S3Server, bucket: dict[str, bytes]) -> None:
    body = {"instances": [{"url": f"s3://inputs/{key}"} for key in KEYS]}
    resolve(fetcher(s3, "s3://inputs"), body)
    assert body["instances"] == [bucket[key] for key in KEYS]


def test_presigned_urls_resolve_to_the_right_objects(s3: S3Server, bucket: dict[str, bytes]) -> None:
    client = s3.client()
    urls = [
        client.generate_presigned_url("get_object", Params={"Bucket": "inputs", "Key": key}, ExpiresIn=600)
        for key in KEYS
    ]
    assert all("X-Amz-Signature" in url for url in urls)
    body = {"inputs": {"image": [{"url": url} for url in urls]}}
    resolve(fetcher(s3, f"http://127.0.0.1:{s3.port}"), body)
    assert body["inputs"]["image"] == [bucket[key] for key in KEYS]


def test_access_denied_is_a_400_without_the_query(s3: S3Server) -> None:
    def forbid(handler: Any) -> None:
        handler.send_response(403)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with http_server(forbid) as server, pytest.raises(InvalidArgument, match="access denied") as caught:
        url = f"{server.url}/b/k?X-Amz-Credential=AKIASECRET&X-Amz-Signature=feed"
        resolve(fetcher(s3, server.url), {"inputs": [{"url": url}]})
    assert "AKIASECRET" not in caught.value.message and "feed" not in caught.value.message


def test_a_url_given_twice_is_fetched_once(s3: S3Server, bucket: dict[str, bytes]) -> None:
    with http_server(body_of(b"once")) as server:
        body = {"instances": [{"url": f"{server.url}/o"}, {"url": f"{server.url}/o"}]}
        resolve(fetcher(s3, server.url), body)
    assert body["instances"] == [b"once", b"once"]
    assert server.requests == ["/o"]


def test_nothing_is_allowed_by_default(s3: S3Server, bucket: dict[str, bytes]) -> None:
    with pytest.raises(InvalidArgument, match=r"^input URLs are not allowed on this server \(s3://inputs\)$"):
        resolve(fetcher(s3), {"inputs": [{"url": "s3://inputs/plain.bin"}]})


def test_a_bucket_or_prefix_not_allowed_is_refused_before_any_fetch(
    s3: S3Server, bucket: dict[str, bytes]
) -> None:
    allowed = fetcher(s3, "s3://inputs/folder")
    with pytest.raises(InvalidArgument, match="s3://private"):
        resolve(
            allowed,
            {"inputs": [{"url": "s3://inputs/folder/späce %20 + key"}, {"url": "s3://private/secret"}]},
        )
    with pytest.raises(InvalidArgument, match="not among those"):
        resolve(allowed, {"inputs": [{"url": "s3://inputs/plain.bin"}]})
    body = {"inputs": [{"url": "s3://inputs/folder/späce %20 + key"}]}
    assert resolve(allowed, body)["inputs"] == [bucket["folder/späce %20 + key"]]


def test_a_missing_object_is_a_400_naming_the_key(s3: S3Server, bucket: dict[str, bytes]) -> None:
    with pytest.raises(InvalidArgument, match="'s3://inputs/no such key': no such object"):
        resolve(fetcher(s3, "s3://inputs"), {"inputs": [{"url": "s3://inputs/no such key"}]})
    with pytest.raises(InvalidArgument, match="no such bucket"):
        resolve(fetcher(s3, "s3://absent-bucket"), {"inputs": [{"url": "s3://absent-bucket/k"}]})
    gone = http_server(
        lambda h: (h.send_response(404), h.send_header("Content-Length", "0"), h.end_headers())
    )
    with gone as srv, pytest.raises(InvalidArgument, match="no such object"):
        resolve(fetcher(s3, srv.url), {"inputs": [{"url": f"{srv.url}/gone?X-Amz-Signature=zz"}]})


def test_the_byte_limit_is_a_413(s3: S3Server, bucket: dict[str, bytes]) -> None:
    small = fetcher(s3, "s3://inputs", max_bytes=100_000)
    with pytest.raises(PayloadTooLarge, match="larger than 100000 bytes") as caught:
        resolve(small, {"inputs": [{"url": "s3://inputs/big.bin"}]})
    assert caught.value.http_status == 413
    # the limit holds for a request's objects together
    two = fetcher(s3, "s3://inputs", max_bytes=len(bucket["plain.bin"]) + 10)
    with pytest.raises(PayloadTooLarge):
        resolve(two, {"inputs": [{"url": "s3://inputs/plain.bin"}, {"url": "s3://inputs/a cat ü.jpg"}]})


def test_an_undeclared_length_is_counted_while_streaming(s3: S3Server) -> None:
    with http_server(body_of(b"y" * 500_000, declare_length=False)) as server:
        with pytest.raises(PayloadTooLarge):
            resolve(fetcher(s3, server.url, max_bytes=200_000), {"inputs": [{"url": f"{server.url}/o"}]})
        body = {"inputs": [{"url": f"{server.url}/o"}]}
        assert resolve(fetcher(s3, server.url), body)["inputs"] == [b"y" * 500_000]


def test_a_slow_endpoint_times_out_with_a_504(s3: S3Server) -> None:
    with http_server(dribble(b"z" * 1000, every=0.2, times=50)) as server:
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"within 0\.5 s") as caught:
            resolve(fetcher(s3, server.url, timeout_seconds=0.5), {"inputs": [{"url": f"{server.url}/slow"}]})
        assert time.monotonic() - start < 3
        assert caught.value.http_status == 504


def test_the_request_deadline_ends_the_fetches(s3: S3Server) -> None:
    slow = http_server(dribble(b"z", every=0.2, times=50))
    with slow as server, pytest.raises(DeadlineExceeded, match="request's deadline"):
        resolve(fetcher(s3, server.url), {"inputs": [{"url": f"{server.url}/slow"}]}, time.monotonic() + 0.4)


def test_redirects_are_not_followed(s3: S3Server) -> None:
    with http_server(body_of(b"internal")) as target, http_server(redirect_to(f"{target.url}/x")) as hop:
        with pytest.raises(InvalidArgument, match="redirect") as caught:
            resolve(fetcher(s3, hop.url, target.url), {"inputs": [{"url": f"{hop.url}/a"}]})
        assert target.requests == []
        assert hop.requests == ["/a"]
        assert "127.0.0.1" in caught.value.message  # the allowed endpoint, not the redirect's target


def test_a_redirect_to_link_local_metadata_is_refused(s3: S3Server) -> None:
    hop_server = http_server(redirect_to("http://169.254.169.254/latest/meta-data/"))
    with hop_server as hop, pytest.raises(InvalidArgument, match="redirect"):
        resolve(fetcher(s3, hop.url), {"inputs": [{"url": f"{hop.url}/a"}]})


def test_a_host_name_resolving_to_loopback_is_refused(s3: S3Server) -> None:
    with http_server(body_of(b"local")) as server:
        by_name = f"http://localhost:{server.port}"
        with pytest.raises(InvalidArgument, match="resolves to a loopback address"):
            resolve(fetcher(s3, by_name), {"inputs": [{"url": f"{by_name}/x"}]})
        assert server.requests == []


def test_an_unreachable_endpoint_is_a_502(s3: S3Server) -> None:
    with http_server(body_of(b"")) as server:
        url = server.url
    with pytest.raises(MooringsError) as caught:
        resolve(fetcher(s3, url), {"inputs": [{"url": f"{url}/x"}]})
    assert caught.value.http_status == 502


def test_concurrent_fetches_share_the_pool(s3: S3Server) -> None:
    """Eight references each taking 0.3 s finish in about two rounds of four, not eight rounds."""
    with http_server(dribble(b"q", every=0.3, times=1)) as server:
        body = {"inputs": [{"url": f"{server.url}/{i}"} for i in range(8)]}
        start = time.monotonic()
        resolve(fetcher(s3, server.url), body)
        elapsed = time.monotonic() - start
    assert body["inputs"] == [b"q"] * 8
    assert elapsed < 8 * 0.3


def test_https_is_verified_at_the_pinned_address(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS to an endpoint allowed by IP address: the certificate must name that address and chain
    to a trusted CA (AWS_CA_BUNDLE here); otherwise the fetch is a 502, never unverified bytes."""
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good_cert, good_tls = self_signed(tmp_path / "good", ["localhost"], ["127.0.0.1"])
    bad_cert, bad_tls = self_signed(tmp_path / "bad", ["other.example"], [])
    with http_server(body_of(b"over tls"), good_tls) as server:
        endpoint = f"https://127.0.0.1:{server.port}"
        body = {"inputs": [{"url": f"{endpoint}/b/k?X-Amz-Signature=s"}]}
        with pytest.raises(MooringsError, match="TLS") as caught:  # the system's CAs do not know it
            resolve(fetcher(s3, endpoint), body)
        assert caught.value.http_status == 502
        monkeypatch.setenv("AWS_CA_BUNDLE", str(good_cert))
        assert resolve(fetcher(s3, endpoint), body)["inputs"] == [b"over tls"]
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bad_cert))
    with http_server(body_of(b"wrong name"), bad_tls) as server:
        endpoint = f"https://127.0.0.1:{server.port}"
        with pytest.raises(MooringsError, match="TLS") as caught:
            resolve(fetcher(s3, endpoint), {"inputs": [{"url": f"{endpoint}/b/k"}]})
        assert caught.value.http_status == 502


def test_a_stalled_object_store_times_out_and_a_closed_one_is_a_502(s3: S3Server) -> None:
    def stall(handler: Any) -> None:
        time.sleep(10)

    with http_server(stall) as store:
        slow = InputFetcher(FetchSettings(("s3://inputs",), s3_endpoint_url=store.url, timeout_seconds=0.5))
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="s3://inputs"):
            resolve(slow, {"inputs": [{"url": "s3://inputs/k"}]})
        # well before the store would answer; the slack is for a first boto3 client on a busy machine
        assert time.monotonic() - start < 6
        assert store.requests == ["/inputs/k"]  # path-style, as an S3-compatible store takes it
        closed_url = store.url
    closed = InputFetcher(FetchSettings(("s3://inputs",), s3_endpoint_url=closed_url, timeout_seconds=2))
    with pytest.raises(MooringsError, match="could not connect to the object store") as caught:
        resolve(closed, {"inputs": [{"url": "s3://inputs/k"}]})
    assert caught.value.http_status == 502

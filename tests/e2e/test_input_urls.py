"""Inputs by URL against a real server process and a real S3-compatible server (moto's) on 127.0.0.1.

The model (tests/support/bytes_models.py) answers the bytes it was given, so each
answer shows that the object's bytes reached the model in place of the reference.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.bytes_models import write_bytes_echo
from tests.support.s3 import S3Server, body_of, http_server, redirect_to, s3_server
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

#: ASCII only: onnxruntime reads string tensors as text
OBJECTS = {
    "allowed/cat photo.jpg": b"JPEG-ish bytes of a cat, from S3",
    "allowed/what?x=1&y=2": b"an object whose key looks like a query",
    "allowed/ünïcode key": b"an object with a unicode key",
    "secret/keys.txt": b"not for clients",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        client = server.client()
        client.create_bucket(Bucket="inputs")
        client.create_bucket(Bucket="others")
        for key, data in OBJECTS.items():
            client.put_object(Bucket="inputs", Key=key, Body=data)
        client.put_object(Bucket="others", Key="x", Body=b"x")
        yield server


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("input-urls") / "repo"
    write_bytes_echo(repo / "echo" / "1")
    return repo


@pytest.fixture(scope="module")
def server(s3: S3Server, repo: Path) -> Iterator[RunningServer]:
    with running_server(
        repo,
        "--allow-input-url", "s3://inputs/allowed",
        "--allow-input-url", f"http://127.0.0.1:{s3.port}",
        "--s3-endpoint-url", s3.endpoint,
        "--max-input-url-bytes", "4096",
    ) as running:  # fmt: skip
        yield running


def b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode()}


def predict(server: RunningServer, body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/models/echo:predict", json=body, timeout=30)


def test_rows_with_s3_urls(server: RunningServer) -> None:
    keys = ["allowed/cat photo.jpg", "allowed/what?x=1&y=2", "allowed/ünïcode key"]
    answer = predict(server, {"instances": [{"url": f"s3://inputs/{key}"} for key in keys]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [b64(OBJECTS[key]) for key in keys]}


def test_columns_mixing_presigned_urls_b64_and_text(server: RunningServer, s3: S3Server) -> None:
    presigned = s3.client().generate_presigned_url(
        "get_object", Params={"Bucket": "inputs", "Key": "allowed/what?x=1&y=2"}, ExpiresIn=600
    )
    answer = predict(server, {"inputs": {"data": [{"url": presigned}, b64(b"inline"), "text"]}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"outputs": [b64(OBJECTS["allowed/what?x=1&y=2"]), b64(b"inline"), b64(b"text")]}


def test_kserve_v2_bytes_data(server: RunningServer) -> None:
    body = {
        "inputs": [
            {
                "name": "data",
                "datatype": "BYTES",
                "shape": [2],
                "data": [{"url": "s3://inputs/allowed/cat photo.jpg"}, "b"],
            }
        ]
    }
    answer = httpx.post(f"{server.url}/v2/models/echo/infer", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [OBJECTS["allowed/cat photo.jpg"].decode(), "b"]


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("s3://inputs/secret/keys.txt", 400, "input URLs are not allowed on this server for s3://inputs"),
        ("s3://others/x", 400, "input URLs are not allowed on this server for s3://others"),
        ("https://example.com/x?X-Amz-Signature=topsecret", 400, "https://example.com"),
        ("s3://inputs/allowed/missing", 400, "'s3://inputs/allowed/missing': no such object"),
        ("s3://inputs/allowed/../secret/keys.txt", 400, "'..' segment"),
        ("file:///etc/passwd", 400, "must start with s3:// or https://"),
    ],
)
def test_refusals_are_clear_400s(server: RunningServer, url: str, status: int, message: str) -> None:
    answer = predict(server, {"instances": [{"url": url}]})
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert "topsecret" not in answer.text
    assert httpx.get(f"{server.url}/v2/health/live", timeout=5).status_code == 200


def test_a_redirect_to_a_private_address_is_refused(server: RunningServer, s3: S3Server) -> None:
    """An allowed endpoint that redirects into the private network: refused, the target never asked."""
    with http_server(body_of(b"internal")) as target, http_server(redirect_to(f"{target.url}/x")) as hop:
        restart_args = ("--allow-input-url", hop.url)
        with running_server(server_repo(server), *restart_args) as other:
            answer = predict(other, {"instances": [{"url": f"{hop.url}/object"}]})
        assert answer.status_code == 400
        assert "redirect" in answer.json()["error"]
        assert target.requests == []


def server_repo(server: RunningServer) -> Path:
    return server.log_path.parent / "repo"


def test_too_many_bytes_is_a_413(server: RunningServer, s3: S3Server) -> None:
    s3.client().put_object(Bucket="inputs", Key="allowed/big", Body=b"b" * 5000)
    answer = predict(server, {"instances": [{"url": "s3://inputs/allowed/big"}]})
    assert answer.status_code == 413
    assert "4096 bytes" in answer.json()["error"]


def test_everything_is_refused_by_default(repo: Path) -> None:
    with running_server(repo) as plain:
        answer = predict(plain, {"instances": [{"url": "s3://inputs/allowed/cat photo.jpg"}]})
    assert answer.status_code == 400
    assert answer.json()["error"] == "input URLs are not allowed on this server (s3://inputs)"


def test_without_boto3_the_server_starts_and_refuses_urls(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "no-boto3" / "boto3"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('boto3 hidden by the test')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")]))
    with running_server(repo, "--allow-input-url", "s3://inputs") as bare:
        answer = predict(bare, {"instances": [{"url": "s3://inputs/allowed/cat photo.jpg"}]})
        inline = predict(bare, {"instances": ["plain text"]})
    assert answer.status_code == 400
    assert "need boto3" in answer.json()["error"] and "moorings[s3]" in answer.json()["error"]
    assert inline.status_code == 200

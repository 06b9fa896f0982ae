"""Hostile image uploads against a real server process: each is a 4xx naming the problem, the
server keeps serving, and its peak memory (VmHWM) stays far below what decoding the declared
images would take (a 50,000 x 50,000 PNG alone would be 7.5 GB of pixels)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import images
from tests.support.forms import multipart
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

PNG = images.encode(images.photo(60, 80, seed=1), "PNG")
JPEG = images.encode(images.photo(60, 80, seed=2), "JPEG", quality=90)
#: the most the server's peak resident memory may grow over the whole module
GROWTH_LIMIT = 300 << 20


def bomb_jpeg(width: int = 60_000, height: int = 60_000) -> bytes:
    """A real small JPEG whose frame header (SOF0) is rewritten to declare ``width`` x ``height``."""
    data = bytearray(images.encode(images.photo(8, 8), "JPEG"))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def peak_rss(server: RunningServer) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    repo = tmp_path_factory.mktemp("hostile-images") / "repo"
    images.write_image_model(repo / "photos" / "1")
    (repo / "photos" / "model.toml").write_text(images.image_toml())
    args = ("--max-image-mb", "0.25", "--max-decoded-image-mb", "1", "--max-body-mb", "4")
    with running_server(repo, *args, tfserving_grpc=False) as running:
        yield running


@pytest.fixture(scope="module")
def baseline(server: RunningServer) -> Iterator[int]:
    # one good request first, so that what a first request loads counts in the baseline
    assert _upload(server, [("image", "a.png", PNG)]).status_code == 200
    before = peak_rss(server)
    yield before
    assert peak_rss(server) - before < GROWTH_LIMIT


def _upload(server: RunningServer, parts: list[tuple[str, str | None, bytes]]) -> httpx.Response:
    body, content_type = multipart(parts)
    return httpx.post(
        f"{server.url}/v1/models/photos:predict",
        content=body,
        headers={"content-type": content_type},
        timeout=30,
    )


def _still_serving(server: RunningServer) -> None:
    assert server.process.poll() is None
    assert _upload(server, [("image", "ok.jpg", JPEG)]).status_code == 200


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (
            images.bomb_png(),
            400,
            "image 0 of input 'image' declares 2500000000 pixels; the limit is 40000000",
        ),
        (bomb_jpeg(), 400, "image 0 of input 'image' declares 3600000000 pixels"),
        (images.bomb_png(7000, 7000), 400, "is 7000x7000 = 49000000 pixels; the limit is 40000000"),
        (PNG[: len(PNG) // 2], 400, "(PNG) is truncated or corrupt"),
        (JPEG[: len(JPEG) // 2], 400, "(JPEG) is truncated or corrupt"),
        (b"\xff\xd8\xff" + bytes(range(256)) * 4, 400, "image 0 of input 'image'"),
        (b"BM" + bytes(200), 400, "is a BMP file, an unsupported image format; send JPEG, PNG, WebP or GIF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 400, "is a SVG file, an unsupported image format"),
        (b"just some text", 400, "is not an image Moorings can read"),
        (b"", 400, "image 0 of input 'image' is empty"),
        (b"\x00" * 300_000, 413, "over the limit of 262144 bytes per part"),
    ],
)
def test_bad_images_are_named(
    server: RunningServer, baseline: int, data: bytes, status: int, message: str
) -> None:
    r = _upload(server, [("image", "upload.bin", data)])
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert str(server.log_path.parent) not in r.text and "site-packages" not in r.text  # no path leaks
    _still_serving(server)


def test_the_same_bomb_as_b64_json(server: RunningServer, baseline: int) -> None:
    body = {"instances": [{"b64": base64.b64encode(images.bomb_png()).decode()}]}
    r = httpx.post(f"{server.url}/v1/models/photos:predict", json=body, timeout=30)
    assert r.status_code == 400 and "declares 2500000000 pixels" in r.json()["error"]
    big = {"instances": [{"b64": base64.b64encode(b"\x00" * 300_000).decode()}]}
    r = httpx.post(f"{server.url}/v1/models/photos:predict", json=big, timeout=30)
    assert (
        r.status_code == 413 and "is 300000 bytes; the limit is 262144 (--max-image-mb)" in r.json()["error"]
    )
    _still_serving(server)


def test_many_tiny_images_cannot_decode_to_a_huge_tensor(server: RunningServer, baseline: int) -> None:
    tiny = images.encode(images.photo(1, 1), "PNG")  # ~70 bytes each, 2304 bytes decoded
    r = _upload(server, [("image", f"{i}.png", tiny) for i in range(1000)])
    assert r.status_code == 413, r.text
    assert "1000 images decode to 2304000 bytes of tensor; the limit is 1048576" in r.json()["error"]
    _still_serving(server)


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"--x\r\n", "has no boundary parameter"),
        (
            "multipart/form-data; boundary=other",
            multipart([("image", "a.png", PNG)])[0],
            "does the body use the boundary its Content-Type names?",
        ),
        ("image/png", PNG, "(the request's Content-Type is 'image/png')"),
        ("application/octet-stream", JPEG, "this route takes a JSON body, or multipart/form-data"),
    ],
)
def test_bad_forms_and_wrong_content_types(
    server: RunningServer, baseline: int, content_type: str, body: bytes, message: str
) -> None:
    r = httpx.post(
        f"{server.url}/v1/models/photos:predict",
        content=body,
        headers={"content-type": content_type},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    _still_serving(server)


def test_too_many_parts(server: RunningServer, baseline: int) -> None:
    r = _upload(server, [("image", None, b"x")] * 1025)
    assert r.status_code == 400 and "the form has more than 1024 parts" in r.json()["error"]
    _still_serving(server)

"""Mutated image files (bytes changed, cut out, inserted) only ever fail as a named 4xx: no other
exception leaves the decoder, whatever Pillow meets."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from moorings.errors import MooringsError
from moorings.preprocess.image import decode_image
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.spec import parse_image
from tests.support import images

MUTATIONS = 250


def _mutated(base: bytes, rng: random.Random) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(data))
        roll = rng.random()
        if roll < 0.6:
            data[at] = rng.randrange(256)
        elif roll < 0.8:
            del data[at : at + rng.randint(1, 20)]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return bytes(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_mutated_files_fail_only_as_named_errors(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    options = {"exif": exif.tobytes()} if fmt == "JPEG" else {}
    base = images.encode(images.photo(20, 24), fmt, **options)
    spec = parse_image("image", {"resize": "crop-center"})
    rng = random.Random(fmt)
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(MUTATIONS):
        try:
            pixels = decode_image(_mutated(base, rng), spec, (12, 16), InputLimits(), "image 0")
        except MooringsError as exc:
            assert exc.http_status in (400, 413) and exc.message.startswith("image 0")
            outcomes["refused"] += 1
        else:
            assert pixels.shape == (12, 16, 3)
            outcomes["decoded"] += 1
    assert outcomes["refused"] > 0  # the mutations do reach the error paths

"""Decoding images into the declared tensor, against Pillow + numpy computed here."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from moorings import dtypes
from moorings.errors import InvalidArgument, LoadError, PayloadTooLarge
from moorings.preprocess.image import BoundImage, bind_image, decode_image
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.spec import ImageInput, parse_image
from moorings.types import TensorSpec
from tests.support import images

LIMITS = InputLimits()
NHWC = TensorSpec("image", dtypes.FLOAT32, (-1, 12, 16, 3))


def spec(**table: object) -> ImageInput:
    return parse_image("image", dict(table))


def bound(tensor: TensorSpec = NHWC, limits: InputLimits = LIMITS, **table: object) -> BoundImage:
    return bind_image(spec(**table), tensor, limits)


def batch(*encoded: bytes) -> np.ndarray:
    values = np.empty(len(encoded), dtype=object)
    values[:] = list(encoded)
    return values


@pytest.mark.parametrize(
    ("fmt", "options"), [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {}), ("GIF", {})]
)
def test_each_format_decodes_as_pillow_does(fmt: str, options: dict[str, object]) -> None:
    data = images.encode(images.photo(), fmt, **options)
    got = bound().convert(batch(data))
    assert got.dtype == np.float32 and got.shape == (1, 12, 16, 3)
    np.testing.assert_array_equal(got, images.reference_tensor([data]))


def test_normalisation_and_nchw_follow_the_declaration() -> None:
    data = images.encode(images.photo(), "PNG")
    nchw = TensorSpec("image", dtypes.FLOAT32, (-1, 3, 12, 16))
    table = {
        "scale": images.NORMALISATION["scale"],
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    got = bound(nchw, layout="NCHW", **table).convert(batch(data, data))
    want = images.reference_tensor([data, data], layout="NCHW", **images.NORMALISATION)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert got.flags.c_contiguous


def test_uint8_bgr_and_grey() -> None:
    pixels = images.photo(12, 16)
    data = images.encode(pixels, "PNG")
    u8 = TensorSpec("image", dtypes.by_name("uint8"), (-1, 12, 16, 3))
    np.testing.assert_array_equal(bound(u8, channels="BGR").convert(batch(data))[0], pixels[:, :, ::-1])
    grey = TensorSpec("image", dtypes.FLOAT32, (-1, 12, 16, 1))
    want = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float32)[:, :, None]
    np.testing.assert_array_equal(bound(grey, channels="L").convert(batch(data))[0], want)


def test_exif_orientation_is_applied_before_resizing() -> None:
    tall = images.photo(40, 30)  # stored 40 high, 30 wide
    data = images.jpeg_with_orientation(tall, 6)  # shown turned: 30 high, 40 wide
    with Image.open(io.BytesIO(data)) as plain:
        assert plain.size == (30, 40)
    got = bound().convert(batch(data))
    np.testing.assert_array_equal(got, images.reference_tensor([data]))
    unturned = images.reference_tensor([data], transpose_exif=False)
    assert not np.array_equal(got, unturned)


def test_a_gif_gives_its_first_frame() -> None:
    first, second = images.photo(12, 16, seed=1), np.zeros((12, 16, 3), np.uint8)
    data = images.two_frame_gif(first, second)
    got = bound().convert(batch(data))
    np.testing.assert_array_equal(got, images.reference_tensor([images.encode(first, "GIF")]))
    assert got.mean() > 50  # the black second frame would be ~0


def test_resize_modes() -> None:
    wide = np.zeros((10, 40, 3), np.uint8)
    wide[:, 10:30] = 200  # a bright middle half
    data = images.encode(wide, "PNG")
    cropped = decode_image(data, spec(resize="crop-center"), (10, 20), LIMITS, "image 0")
    assert cropped.shape == (10, 20, 3) and cropped.min() == 200  # only the middle is kept
    padded = decode_image(data, spec(resize="fit-pad"), (20, 40), LIMITS, "image 0")
    assert padded[:5].max() == 0 and padded[-5:].max() == 0 and padded[10, 20, 0] == 200
    stretched = decode_image(data, spec(), (10, 20), LIMITS, "image 0")
    assert stretched.shape == (10, 20, 3) and stretched[:, 0].max() == 0
    with pytest.raises(
        InvalidArgument, match=r"image 0 is 40x10 \(width x height\); the model takes exactly 20x10"
    ):
        decode_image(data, spec(resize="exact"), (10, 20), LIMITS, "image 0")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "image 0 of input 'image' is empty"),
        (b"hello, not an image at all", "is not an image Moorings can read (expected JPEG, PNG, WebP or GIF"),
        (b"BM" + b"\x00" * 60, "is a BMP file, an unsupported image format; send JPEG, PNG, WebP or GIF"),
        (b"II*\x00" + b"\x00" * 60, "is a TIFF file, an unsupported image format"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "is a PostScript file, an unsupported image format"),
        (images.bomb_png(), "declares 2500000000 pixels; the limit is 40000000 pixels (--max-image-pixels)"),
        (images.bomb_png(9000, 9000), "is 9000x9000 = 81000000 pixels; the limit is 40000000 pixels"),
    ],
)
def test_bad_images_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        bound().convert(batch(data))
    assert message in caught.value.message
    assert caught.value.http_status == 400


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_images_are_named(fmt: str) -> None:
    data = images.encode(images.photo(60, 80), fmt)
    with pytest.raises(InvalidArgument) as caught:
        bound().convert(batch(data[: len(data) // 2]))
    assert "image 0 of input 'image'" in caught.value.message
    assert "truncated or corrupt" in caught.value.message or "corrupt header" in caught.value.message


def test_a_png_with_a_broken_checksum_is_named() -> None:
    data = bytearray(images.encode(images.photo(), "PNG"))
    data[60] ^= 0xFF  # inside the first IDAT chunk's compressed pixels
    with pytest.raises(InvalidArgument, match=r"truncated or corrupt|corrupt header"):
        bound().convert(batch(bytes(data)))


def test_byte_and_decoded_size_limits_are_413() -> None:
    data = images.encode(images.photo(), "PNG")
    small = InputLimits(max_image_bytes=len(data) - 1)
    with pytest.raises(
        PayloadTooLarge, match=rf"image 0 of input 'image' is {len(data)} bytes; the limit is"
    ):
        bound(limits=small).convert(batch(data))
    one_image = 12 * 16 * 3 * 4
    tight = InputLimits(max_decoded_bytes=one_image)
    assert bound(limits=tight).convert(batch(data)).shape[0] == 1
    with pytest.raises(PayloadTooLarge, match=r"2 images decode to 4608 bytes of tensor; the limit is 2304"):
        bound(limits=tight).convert(batch(data, data))


def test_a_value_that_is_not_bytes_is_named() -> None:
    with pytest.raises(InvalidArgument, match="must be encoded image bytes, got str"):
        bound().convert(batch("a string"))  # type: ignore[arg-type]


def test_binding_infers_size_and_dtype_from_the_model() -> None:
    image = bound()
    assert (image.size, image.numpy, image.wire) == (
        (12, 16),
        np.dtype(np.float32),
        TensorSpec("image", dtypes.STRING, (-1,)),
    )
    fixed_batch = bind_image(spec(size=[12, 16]), TensorSpec("image", dtypes.FLOAT32, (1, -1, -1, 3)), LIMITS)
    assert fixed_batch.wire.shape == (1,) and fixed_batch.size == (12, 16)


@pytest.mark.parametrize(
    ("tensor", "table", "message"),
    [
        (
            TensorSpec("image", dtypes.FLOAT32, (-1, 12)),
            {},
            "has shape [-1, 12]; an image input has 4 dimensions",
        ),
        (TensorSpec("image", dtypes.INT64, (-1, 12, 16, 3)), {}, "holds int64; an image input holds float32"),
        (NHWC, {"dtype": "uint8"}, "dtype is 'uint8' but the model's input 'image' holds float32"),
        (
            NHWC,
            {"channels": "L"},
            "channels = 'L' gives 1 channel(s), but the model's input 'image' has shape",
        ),
        (NHWC, {"layout": "NCHW"}, "check channels and layout"),
        (NHWC, {"size": [10, 16]}, "size = [10, 16] (height, width) does not fit the model's input 'image'"),
        (TensorSpec("image", dtypes.FLOAT32, (-1, -1, -1, 3)), {}, "needs size = [height, width]"),
        (TensorSpec("image", dtypes.FLOAT32, None), {}, "needs size = [height, width]"),
        (TensorSpec("image", dtypes.by_name("uint8"), (-1, 12, 16, 3)), {"scale": 0.5}, "need a float input"),
    ],
)
def test_a_declaration_that_does_not_fit_the_model_fails_its_load(
    tensor: TensorSpec, table: dict[str, object], message: str
) -> None:
    with pytest.raises(LoadError) as caught:
        bind_image(spec(**table), tensor, LIMITS)
    assert "model.toml [inputs.image]" in caught.value.message and message in caught.value.message

"""Encoded images -> the pixel tensor an ``[inputs.<name>] kind = "image"`` declaration describes.

Runs on a batch thread or the inference pool, never on the event loop. Each image is
checked before it is decoded: its size in bytes, then the width x height its header
declares (``Image.open`` reads only the header) against the server's pixel limit, so a
small file that declares a huge image is refused without allocating its pixels. Only
JPEG, PNG, WebP and GIF are opened (Pillow's other decoders are never tried); a GIF or
animated WebP gives its first frame; the EXIF orientation is applied before resizing.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from moorings import dtypes
from moorings.errors import InvalidArgument, LoadError, PayloadTooLarge, first_line
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.spec import ImageInput
from moorings.types import TensorSpec

#: the formats Pillow may open (by Pillow's format names)
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
#: leading bytes of formats Moorings does not decode, to name them in the error
_OTHER_FORMATS = (
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"8BPS", "Photoshop"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"<svg", "SVG"),
    (b"<?xml", "SVG/XML"),
)
_AVIF_HEIF = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1")
_PIXELS_IN_MESSAGE = re.compile(r"\((\d+) pixels\)")


def allow_pixels(limit: int) -> None:
    """Raise Pillow's own decompression-bomb threshold (it warns above it, refuses at twice it)
    to ``limit`` when the operator allows more; Moorings' check applies the limit itself."""
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and limit > current:
        Image.MAX_IMAGE_PIXELS = limit


def _sniff(data: bytes) -> str | None:
    """The name of a format Moorings does not decode, from the first bytes; None if unknown."""
    head = data[:16]
    for magic, name in _OTHER_FORMATS:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_HEIF:
        return "AVIF/HEIF"
    if head.startswith(b"RIFF") and head[8:12] != b"WEBP":
        return "RIFF (not WebP)"
    return None


def _opened(data: bytes, where: str, limits: InputLimits) -> Image.Image:
    """The image with only its header read; InvalidArgument naming what is wrong."""
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        other = _sniff(data)
        if other is not None:
            raise InvalidArgument(
                f"{where} is a {other} file, an unsupported image format; send JPEG, PNG, WebP or GIF"
            ) from None
        raise InvalidArgument(
            f"{where} is not an image Moorings can read (expected JPEG, PNG, WebP or GIF data)"
        ) from None
    except Image.DecompressionBombError as exc:
        found = _PIXELS_IN_MESSAGE.search(str(exc))
        declared = f"declares {found.group(1)} pixels" if found else "declares too many pixels"
        raise InvalidArgument(
            f"{where} {declared}; the limit is {limits.max_image_pixels} pixels (--max-image-pixels)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidArgument(f"{where} has a corrupt header: {first_line(exc)}") from None


def decode_image(
    data: bytes, spec: ImageInput, size: tuple[int, int], limits: InputLimits, where: str
) -> np.ndarray:
    """One encoded image as uint8 pixels ``[height, width, channels]`` (RGB, BGR or L order),
    resized to ``size`` (height, width) as ``spec.resize`` says."""
    if len(data) > limits.max_image_bytes:
        raise PayloadTooLarge(
            f"{where} is {len(data)} bytes; the limit is {limits.max_image_bytes} (--max-image-mb)"
        )
    if not data:
        raise InvalidArgument(f"{where} is empty")
    image = _opened(data, where, limits)
    with image:
        width, height = image.size
        if width * height > limits.max_image_pixels:
            raise InvalidArgument(
                f"{where} is {width}x{height} = {width * height} pixels; the limit is "
                f"{limits.max_image_pixels} pixels (--max-image-pixels)"
            )
        fmt = image.format or "image"
        try:
            image.load()
            pixels = _oriented(image).convert("L" if spec.channels == "L" else "RGB")
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise InvalidArgument(f"{where} ({fmt}) is truncated or corrupt: {first_line(exc)}") from None
    resized = _resized(pixels, spec, size, where)
    array = np.asarray(resized, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    elif spec.channels == "BGR":
        array = array[:, :, ::-1]
    return array


def _oriented(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (unchanged without one)."""
    turned = ImageOps.exif_transpose(image)
    return image if turned is None else turned


def _resized(image: Image.Image, spec: ImageInput, size: tuple[int, int], where: str) -> Image.Image:
    height, width = size
    if image.size == (width, height):
        return image
    method = _RESAMPLE[spec.resample]
    if spec.resize == "exact":
        raise InvalidArgument(
            f"{where} is {image.width}x{image.height} (width x height); the model takes exactly "
            f"{width}x{height} (inputs.{spec.name}.resize = 'exact')"
        )
    if spec.resize == "crop-center":
        return ImageOps.fit(image, (width, height), method=method)
    if spec.resize == "fit-pad":
        return ImageOps.pad(image, (width, height), method=method, color=0)
    return image.resize((width, height), method)


@dataclass(frozen=True)
class BoundImage:
    """An image declaration matched to the model's input tensor: what clients send, and how it
    becomes the tensor."""

    spec: ImageInput
    #: what the signature shows clients: one encoded image (bytes) per row
    wire: TensorSpec
    #: the model's tensor
    tensor: TensorSpec
    size: tuple[int, int]
    numpy: np.dtype[np.generic]
    limits: InputLimits

    @property
    def model_inputs(self) -> tuple[str, ...]:
        return (self.tensor.name,)

    @property
    def fixed_shape(self) -> bool:
        return True

    def tensors(self, values: np.ndarray) -> dict[str, np.ndarray]:
        return {self.tensor.name: self.convert(values)}

    def convert(self, values: np.ndarray) -> np.ndarray:
        """The batch of encoded images ``values`` (bytes, one per row) as the model's tensor."""
        count = values.shape[0] if values.ndim else 1
        height, width = self.size
        decoded_bytes = count * height * width * self.spec.channel_count * self.numpy.itemsize
        if decoded_bytes > self.limits.max_decoded_bytes:
            raise PayloadTooLarge(
                f"input {self.spec.name!r}: {count} images decode to {decoded_bytes} bytes of tensor; the "
                f"limit is {self.limits.max_decoded_bytes} (--max-decoded-image-mb)"
            )
        rows = values.reshape(-1)
        batch = np.empty((count, height, width, self.spec.channel_count), dtype=np.uint8)
        for i, value in enumerate(rows.tolist()):
            where = f"image {i} of input {self.spec.name!r}"
            if not isinstance(value, bytes | bytearray | memoryview):
                raise InvalidArgument(f"{where} must be encoded image bytes, got {type(value).__name__}")
            batch[i] = decode_image(bytes(value), self.spec, self.size, self.limits, where)
        return self._normalised(batch)

    def _normalised(self, batch: np.ndarray) -> np.ndarray:
        spec = self.spec
        if self.numpy == np.uint8:
            out = batch
        else:
            out = batch.astype(self.numpy)
            if spec.scale != 1.0:
                out *= self.numpy.type(spec.scale)
            if any(m != 0.0 for m in spec.mean):
                out -= np.asarray(spec.mean, dtype=self.numpy)
            if any(s != 1.0 for s in spec.std):
                out /= np.asarray(spec.std, dtype=self.numpy)
        if spec.layout == "NCHW":
            out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
        return out


def bind_image(spec: ImageInput, tensor: TensorSpec, limits: InputLimits) -> BoundImage:
    """Match ``spec`` to the model's input ``tensor``; LoadError naming the model.toml key that
    does not fit it."""
    where = f"model.toml [inputs.{spec.name}]"
    shape = tensor.shape
    if shape is not None and len(shape) != 4:
        raise LoadError(
            f"{where} declares an image, but the model's input {spec.name!r} has shape "
            f"{tensor.describe_shape()}; an image input has 4 dimensions ({_layout_words(spec.layout)})"
        )
    if tensor.dtype.name not in ("float32", "float16", "float64", "uint8"):
        raise LoadError(
            f"{where} declares an image, but the model's input {spec.name!r} holds {tensor.dtype.name}; "
            "an image input holds float32, float16, float64 or uint8"
        )
    if spec.dtype is not None and spec.dtype != tensor.dtype.name:
        raise LoadError(
            f"{where} dtype is {spec.dtype!r} but the model's input {spec.name!r} holds {tensor.dtype.name}"
        )
    if tensor.dtype.name == "uint8" and spec.normalises:
        raise LoadError(f"{where}: scale, mean and std need a float input; {spec.name!r} holds uint8")
    h_at, w_at, c_at = (1, 2, 3) if spec.layout == "NHWC" else (2, 3, 1)
    if shape is not None and shape[c_at] not in (-1, spec.channel_count):
        raise LoadError(
            f"{where} channels = {spec.channels!r} gives {spec.channel_count} channel(s), but the model's "
            f"input {spec.name!r} has shape {tensor.describe_shape()} ({_layout_words(spec.layout)}: "
            f"{shape[c_at]} channels); check channels and layout"
        )
    fixed = None if shape is None else (shape[h_at], shape[w_at])
    size = spec.size
    if size is None:
        if fixed is None or -1 in fixed:
            raise LoadError(
                f"{where} needs size = [height, width]: the model's input {spec.name!r} has shape "
                f"{tensor.describe_shape()}, which does not fix them"
            )
        size = fixed
    elif fixed is not None and any(f not in (-1, s) for f, s in zip(fixed, size, strict=True)):
        raise LoadError(
            f"{where} size = {list(size)} (height, width) does not fit the model's input {spec.name!r} of "
            f"shape {tensor.describe_shape()} ({_layout_words(spec.layout)})"
        )
    batch = -1 if shape is None else shape[0]
    wire = TensorSpec(spec.name, dtypes.STRING, (batch,), tensor.tensor_name)
    allow_pixels(limits.max_image_pixels)
    return BoundImage(spec, wire, tensor, size, tensor.dtype.numpy, limits)


def _layout_words(layout: str) -> str:
    return "[batch, height, width, channels]" if layout == "NHWC" else "[batch, channels, height, width]"

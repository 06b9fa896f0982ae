"""Real image files made in memory with Pillow, a small ONNX image model built with onnx.helper,
and an independent reference of what the server should feed it (Pillow + numpy, not Moorings)."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from tests.support.onnx_models import _save

SIZE = (12, 16)  # height, width the model takes
CLASSES = 4


def photo(height: int = 30, width: int = 40, seed: int = 0) -> np.ndarray:
    """A smooth RGB picture (uint8, [height, width, 3]) that compresses like a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    noise = rng.integers(0, 20, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def encode(pixels: np.ndarray, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **options)
    return out.getvalue()


def jpeg_with_orientation(pixels: np.ndarray, orientation: int) -> bytes:
    """A JPEG of ``pixels`` whose EXIF says to turn it (6: 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(pixels, "JPEG", quality=95, exif=exif.tobytes())


def two_frame_gif(first: np.ndarray, second: np.ndarray) -> bytes:
    out = io.BytesIO()
    frames = [Image.fromarray(first), Image.fromarray(second)]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header declares ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


@dataclass(frozen=True)
class ImageModel:
    """``image[-1, 12, 16, 3] float32 -> probabilities[-1, 4], mean[-1, 3]`` (NHWC; a conv, a
    global average and a softmax), or the NCHW variant ``[-1, 3, 12, 16]``."""

    path: Path
    layout: str = "NHWC"

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """The model run directly by ONNX Runtime on ``tensor``."""
        session = ort.InferenceSession(str(self.path / "model.onnx"), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, {"image": tensor}), strict=True))


def write_image_model(folder: Path, layout: str = "NHWC", seed: int = 3) -> ImageModel:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(CLASSES, 3, 3, 3)).astype(np.float32)
    height, width = SIZE
    shape = ["batch", height, width, 3] if layout == "NHWC" else ["batch", 3, height, width]
    nodes = []
    source = "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        source = "nchw"
    nodes += [
        helper.make_node("Conv", [source, "w"], ["features"], pads=[1, 1, 1, 1]),
        helper.make_node("ReduceMean", [source], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["features"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Softmax", ["pooled"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "image_model",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", CLASSES]),
            helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", 3]),
        ],
        [numpy_helper.from_array(weights, "w")],
    )
    _save(graph, folder)
    return ImageModel(folder, layout)


def reference_tensor(
    encoded: list[bytes],
    layout: str = "NHWC",
    scale: float = 1.0,
    mean: tuple[float, ...] = (0.0,),
    std: tuple[float, ...] = (1.0,),
    transpose_exif: bool = True,
) -> np.ndarray:
    """What a "stretch" image input of size ``SIZE`` should feed the model, computed with Pillow
    and numpy directly: decode, EXIF turn, RGB, bilinear resize, scale, mean, std, layout."""
    from PIL import ImageOps

    height, width = SIZE
    rows = []
    for data in encoded:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            turned = ImageOps.exif_transpose(image) if transpose_exif else image
            rgb = turned.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
            rows.append(np.asarray(rgb, dtype=np.float32))
    batch = (np.stack(rows) * np.float32(scale) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) if layout == "NCHW" else batch


IMAGE_TOML = """
[inputs.image]
kind = "image"
size = [12, 16]
scale = 0.00392156862745098
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
layout = "{layout}"
"""


def image_toml(layout: str = "NHWC") -> str:
    return IMAGE_TOML.format(layout=layout)


#: the normalisation IMAGE_TOML declares, for :func:`reference_tensor`
NORMALISATION = {"scale": 0.00392156862745098, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}

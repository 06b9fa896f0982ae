"""Input declarations of ``model.toml`` (``[inputs.<name>]``) parsed into typed specs.

Each table names one input of the model's signatures and says what clients send for it
instead of the tensor the model takes (``kind``); the server turns what they send into that
tensor. Each kind has a parser in :data:`KINDS` (``image`` here, ``text`` in
:mod:`moorings.preprocess.text`) and a binder in :mod:`moorings.preprocess.pipeline`. For example::

    [inputs.image]
    kind = "image"
    size = [224, 224]          # height, width (default: the model's fixed dimensions)
    resize = "stretch"         # "stretch", "fit-pad", "crop-center" or "exact"
    channels = "RGB"           # "RGB", "BGR" or "L"
    dtype = "float32"          # "float32", "float16", "float64" or "uint8" (default: the model's)
    scale = 0.00392156862745098  # each pixel value (0..255) is multiplied by this, then
    mean = [0.485, 0.456, 0.406] # the channel's mean is subtracted
    std = [0.229, 0.224, 0.225]  # and the result divided by the channel's std
    layout = "NHWC"            # or "NCHW"

Errors are InvalidArgument naming the key (``inputs.image.size``), so a bad table fails
the model's versions to load with that message, as other model.toml errors do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from moorings.errors import InvalidArgument
from moorings.preprocess.text import parse_text

RESIZE_MODES = ("stretch", "fit-pad", "crop-center", "exact")
CHANNEL_ORDERS = {"RGB": 3, "BGR": 3, "L": 1}
IMAGE_DTYPES = ("float32", "float16", "float64", "uint8")
LAYOUTS = ("NHWC", "NCHW")
RESAMPLING = ("nearest", "bilinear", "bicubic", "lanczos")
#: the largest height or width a declaration may ask for
MAX_SIDE = 16384


class Declaration(Protocol):
    """What any ``[inputs.<name>] kind = ...`` table declares (each kind's spec has these)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class InputDeclaration:
    """What ``[inputs.<name>]`` declares: the signature input ``name`` takes raw values of ``kind``."""

    name: str
    kind: str


@dataclass(frozen=True)
class ImageInput(InputDeclaration):
    """Encoded images (JPEG, PNG, WebP, GIF) in; a batch of decoded, resized, normalised pixels out."""

    #: (height, width); None: the model's fixed dimensions
    size: tuple[int, int] | None = None
    resize: str = "stretch"
    channels: str = "RGB"
    #: None: the model's input dtype
    dtype: str | None = None
    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    layout: str = "NHWC"
    resample: str = "bilinear"

    @property
    def channel_count(self) -> int:
        return CHANNEL_ORDERS[self.channels]

    @property
    def normalises(self) -> bool:
        """Whether pixels are scaled, shifted or divided (not for integer dtypes)."""
        return self.scale != 1.0 or any(m != 0.0 for m in self.mean) or any(s != 1.0 for s in self.std)


#: a kind's parser: (input name, its table without ``kind``) -> its declaration
Parser = Callable[[str, dict[str, Any]], Declaration]


def _choice(table: dict[str, Any], key: str, where: str, options: tuple[str, ...], default: str) -> str:
    value = table.get(key, default)
    if value not in options:
        shown = ", ".join(repr(o) for o in options)
        raise InvalidArgument(f"{where}.{key} must be one of {shown}, got {value!r}")
    return str(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidArgument(f"{where} must be a number, got {value!r}")
    if abs(value) == float("inf"):
        raise InvalidArgument(f"{where} must be finite, got {value!r}")
    return float(value)


def _per_channel(
    table: dict[str, Any], key: str, where: str, channels: int, default: float
) -> tuple[float, ...]:
    value = table.get(key, default)
    values = value if isinstance(value, list) else [value]
    if len(values) not in (1, channels):
        raise InvalidArgument(
            f"{where}.{key} must be one number or one per channel ({channels}), got {len(values)} values"
        )
    return tuple(_number(v, f"{where}.{key}") for v in values)


def _size(value: Any, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(v) is int and 1 <= v <= MAX_SIDE for v in value)
    ):
        raise InvalidArgument(
            f"{where}.size must be [height, width], two integers from 1 to {MAX_SIDE}, got {value!r}"
        )
    return value[0], value[1]


def parse_image(name: str, table: dict[str, Any]) -> ImageInput:
    where = f"inputs.{name}"
    known = {"size", "resize", "channels", "dtype", "scale", "mean", "std", "layout", "resample"}
    unknown = set(table) - known - {"shape"}  # shape: a Python model's signature (python_signature)
    if unknown:
        raise InvalidArgument(
            f"unknown key(s) in [{where}]: {', '.join(sorted(unknown))} (an image takes: "
            f"{', '.join(sorted(known))})"
        )
    channels = _choice(table, "channels", where, tuple(CHANNEL_ORDERS), "RGB")
    count = CHANNEL_ORDERS[channels]
    dtype = table.get("dtype")
    if dtype is not None and dtype not in IMAGE_DTYPES:
        shown = ", ".join(repr(d) for d in IMAGE_DTYPES)
        raise InvalidArgument(f"{where}.dtype must be one of {shown}, got {dtype!r}")
    std = _per_channel(table, "std", where, count, 1.0)
    if any(s == 0.0 for s in std):
        raise InvalidArgument(f"{where}.std must not be 0 (the pixels are divided by it)")
    spec = ImageInput(
        name=name,
        kind="image",
        size=_size(table.get("size"), where),
        resize=_choice(table, "resize", where, RESIZE_MODES, "stretch"),
        channels=channels,
        dtype=dtype,
        scale=_number(table.get("scale", 1.0), f"{where}.scale"),
        mean=_per_channel(table, "mean", where, count, 0.0),
        std=std,
        layout=_choice(table, "layout", where, LAYOUTS, "NHWC"),
        resample=_choice(table, "resample", where, RESAMPLING, "bilinear"),
    )
    if dtype == "uint8" and spec.normalises:
        raise InvalidArgument(
            f"{where}: scale, mean and std need a float dtype; dtype 'uint8' takes raw pixels"
        )
    return spec


#: every kind of raw input, by the name ``kind`` takes in model.toml
KINDS: dict[str, Parser] = {"image": parse_image, "text": parse_text}


def register_kind(kind: str, parser: Parser) -> None:
    """Add a kind of raw input (its parser gets the table without ``kind``)."""
    KINDS[kind] = parser


def parse_inputs(data: Any) -> dict[str, Declaration]:
    """The ``[inputs]`` table of a model.toml: input name -> its declaration."""
    if not isinstance(data, dict):
        raise InvalidArgument("[inputs] must be a table of [inputs.<input name>] tables")
    declared: dict[str, Declaration] = {}
    for name, table in data.items():
        where = f"inputs.{name}"
        if not name:
            raise InvalidArgument("[inputs] has a table with an empty input name")
        if not isinstance(table, dict):
            raise InvalidArgument(f"[{where}] must be a table with a 'kind' (e.g. kind = \"image\")")
        kind = table.get("kind")
        parser = KINDS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            kinds = ", ".join(repr(k) for k in sorted(KINDS))
            raise InvalidArgument(f"{where}.kind must be one of {kinds}, got {kind!r}")
        declared[name] = parser(name, {k: v for k, v in table.items() if k != "kind"})
    return declared

"""model.toml ``[inputs.<name>]`` declarations: parsed into typed specs, errors naming the key."""

from __future__ import annotations

import pytest

from moorings.config import parse_model_toml
from moorings.errors import InvalidArgument
from moorings.preprocess.spec import KINDS, ImageInput, InputDeclaration, parse_inputs, register_kind


def test_an_image_declaration_is_read_with_every_key() -> None:
    config = parse_model_toml(
        """
        [inputs.photo]
        kind = "image"
        size = [224, 192]
        resize = "crop-center"
        channels = "BGR"
        dtype = "float16"
        scale = 0.5
        mean = [1, 2, 3]
        std = 2
        layout = "NCHW"
        resample = "bicubic"
        """
    )
    spec = config.inputs["photo"]
    assert spec == ImageInput(
        name="photo",
        kind="image",
        size=(224, 192),
        resize="crop-center",
        channels="BGR",
        dtype="float16",
        scale=0.5,
        mean=(1.0, 2.0, 3.0),
        std=(2.0,),
        layout="NCHW",
        resample="bicubic",
    )


def test_the_defaults() -> None:
    spec = parse_inputs({"image": {"kind": "image"}})["image"]
    assert isinstance(spec, ImageInput)
    assert (spec.size, spec.resize, spec.channels, spec.dtype, spec.layout) == (
        None,
        "stretch",
        "RGB",
        None,
        "NHWC",
    )
    assert not spec.normalises
    assert parse_model_toml("").inputs == {}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[inputs.x]\nkind = "video"', "inputs.x.kind must be one of 'image', 'text', got 'video'"),
        ('[inputs.x]\nkind = "image"\nsize = [0, 2]', "inputs.x.size must be [height, width]"),
        ('[inputs.x]\nkind = "image"\nsize = [2]', "inputs.x.size must be [height, width]"),
        ('[inputs.x]\nkind = "image"\nsize = [1.5, 2]', "inputs.x.size must be [height, width]"),
        ('[inputs.x]\nkind = "image"\nsize = [20000, 2]', "two integers from 1 to 16384"),
        (
            '[inputs.x]\nkind = "image"\nresize = "squash"',
            "inputs.x.resize must be one of 'stretch', 'fit-pad'",
        ),
        (
            '[inputs.x]\nkind = "image"\nchannels = "RGBA"',
            "inputs.x.channels must be one of 'RGB', 'BGR', 'L'",
        ),
        ('[inputs.x]\nkind = "image"\ndtype = "int32"', "inputs.x.dtype must be one of 'float32'"),
        ('[inputs.x]\nkind = "image"\nlayout = "HWC"', "inputs.x.layout must be one of 'NHWC', 'NCHW'"),
        (
            '[inputs.x]\nkind = "image"\nmean = [1, 2]',
            "inputs.x.mean must be one number or one per channel (3)",
        ),
        ('[inputs.x]\nkind = "image"\nchannels = "L"\nstd = [1, 2, 3]', "one per channel (1), got 3"),
        ('[inputs.x]\nkind = "image"\nstd = 0', "inputs.x.std must not be 0"),
        ('[inputs.x]\nkind = "image"\nscale = "big"', "inputs.x.scale must be a number"),
        ('[inputs.x]\nkind = "image"\nscale = true', "inputs.x.scale must be a number"),
        ('[inputs.x]\nkind = "image"\nscale = inf', "inputs.x.scale must be finite"),
        ('[inputs.x]\nkind = "image"\nmean = nan', "inputs.x.mean must be a number"),
        ('[inputs.x]\nkind = "image"\ndtype = "uint8"\nscale = 0.5', "dtype 'uint8' takes raw pixels"),
        ('[inputs.x]\nkind = "image"\ncolour = "RGB"', "unknown key(s) in [inputs.x]: colour"),
        ("inputs = 3", "[inputs] must hold one table per tensor"),
        ("[inputs]\nx = 3", "[inputs] must hold one table per tensor"),
        ("[inputs.x]\nkind = 3", "inputs.x.kind must be one of 'image', 'text', got 3"),
    ],
)
def test_bad_declarations_name_the_key(table: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_model_toml(table)
    assert message in caught.value.message


def test_a_new_kind_plugs_in_beside_image() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def parse_words(name: str, table: dict[str, object]) -> InputDeclaration:
        seen.append((name, table))
        return InputDeclaration(name, "words")

    register_kind("words", parse_words)
    try:
        declared = parse_inputs({"text": {"kind": "words", "vocabulary": "vocab.json"}})
        assert declared == {"text": InputDeclaration("text", "words")}
        assert seen == [("text", {"vocabulary": "vocab.json"})]
    finally:
        del KINDS["words"]

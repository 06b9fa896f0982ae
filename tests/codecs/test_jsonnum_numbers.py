"""The C reader's numbers equal orjson's bit for bit, whatever their digit count (hypothesis + edges)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorings import dtypes
from moorings.codecs import json_fast
from moorings.codecs._jsonnum import parse
from moorings.codecs.json_values import to_array

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _is_big_integer(text: str) -> bool:
    """An integer the reader leaves to the general parser so that it stays exact."""
    digits = text.lstrip("-")
    return digits.isdigit() and len(digits) > 15


def _check(numbers: list[str]) -> None:
    """parse() of the array equals orjson + numpy float64 bit for bit, or steps aside only when allowed."""
    body = ("[" + ",".join(numbers) + "]").encode()
    try:
        want = np.asarray(orjson.loads(body), dtype=np.float64)
    except orjson.JSONDecodeError:
        assert parse(body, 0) is None, body  # refused by orjson (e.g. 1e400): refused here too
        return
    got = parse(body, 0)
    if got is None:
        assert any(_is_big_integer(n) for n in numbers), body
        return
    data, shape, end = got
    assert end == len(body) and shape == want.shape
    assert np.frombuffer(data, dtype=np.float64).view(np.uint64).tolist() == want.view(np.uint64).tolist(), (
        body
    )


def _reprs(value: float) -> list[str]:
    return [repr(value), f"{value:.17g}", json.dumps(value), f"{value:.9g}", f"{value:e}"]


@SETTINGS
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=8))
def test_float64_values_in_every_spelling(values: list[float]) -> None:
    for spelling in zip(*(_reprs(v) for v in values), strict=True):
        _check(list(spelling))
    _check(json.dumps(np.asarray(values, dtype=np.float64).tolist())[1:-1].split(", "))


@SETTINGS
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=8))
def test_float32_values_as_clients_send_them(values: list[float]) -> None:
    array = np.asarray(values, dtype=np.float32)
    body = json.dumps({"instances": [array.tolist()]}).encode()  # what TF Serving's examples do
    parsed = json_fast.parse_leading_array(body)
    assert parsed is not None
    got = to_array(parsed["instances"], dtypes.FLOAT32, "input 'x'")
    want = np.asarray(orjson.loads(body)["instances"], dtype=np.float64).astype(np.float32)
    assert got.dtype == np.float32 and got.view(np.uint32).tolist() == want.view(np.uint32).tolist()
    assert got.tolist() == [array.tolist()]  # float32 -> shortest-17-digit repr -> float32 round-trips
    for spelling in zip(*(_reprs(float(v)) for v in array), strict=True):
        _check(list(spelling))


@st.composite
def digit_strings(draw: st.DrawFn) -> str:
    """Any JSON number: sign, 1-40 integer digits, an optional fraction and exponent."""
    digits = st.text(alphabet="0123456789", min_size=1, max_size=45)
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(digits).lstrip("0")[:40] or "0"
    fraction = draw(st.one_of(st.just(""), digits.map(lambda d: "." + d)))
    exponent = ""
    if draw(st.booleans()):
        exponent = (
            draw(st.sampled_from("eE"))
            + draw(st.sampled_from(["", "+", "-"]))
            + str(draw(st.integers(0, 420)))
        )
    return f"{sign}{whole}{fraction}{exponent}"


@SETTINGS
@given(st.lists(digit_strings(), min_size=1, max_size=8))
def test_random_digit_strings(numbers: list[str]) -> None:
    _check(numbers)


@SETTINGS
@given(st.floats(min_value=0, allow_infinity=False, exclude_min=True), st.sampled_from([17, 20, 25, 40]))
def test_halfway_between_two_doubles(value: float, digits: int) -> None:
    """The exact midpoint of two neighbouring doubles, and its neighbours cut to a few digits."""
    above = math.nextafter(value, math.inf)
    if math.isinf(above):
        return
    middle = (Fraction(value) + Fraction(above)) / 2
    exponent = len(str(middle.numerator // middle.denominator)) - 1 if middle >= 1 else 0
    scale = Fraction(10) ** (digits - 1 - exponent)
    cut = middle * scale
    for mantissa in (cut.numerator // cut.denominator, -(-cut.numerator // cut.denominator)):
        _check([f"{mantissa}e{-(digits - 1 - exponent)}"])
    exact = middle.numerator * 5 ** (middle.denominator.bit_length() - 1)  # middle = exact / 10**k
    _check([f"{exact}e-{middle.denominator.bit_length() - 1}"])


def _exact_decimal(value: Fraction) -> str:
    """The exact decimal spelling of a fraction whose denominator is a power of two."""
    k = value.denominator.bit_length() - 1
    return f"{value.numerator * 5**k}e-{k}"


HALF_SMALLEST_SUBNORMAL = Fraction(1, 2**1075)
EDGES = [
    *("0", "-0", "0.0", "-0.0", "0e0", "-0e5", "0.000", "1e-400", "-1e-400", "1e400", "-1e400", "1e308"),
    *("1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308"),
    *("4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324"),
    *("2.2250738585072011e-308", "2.2250738585072014e-308", "4.4501477170144023e-308"),
    *("9007199254740993.0", "9007199254740993e0", "9007199254740995.0", "7.2057594037927933e16"),
    *("0.5117999911308289", "3.4028234663852886e38", "3.4028235677973366e38"),
    *(
        "1" + "0" * 400 + ".0",
        "0." + "0" * 500 + "1",
        "1" * 30 + "e-30",
        "123456789012345678901234567890e-20",
    ),
    *("1e-99999999999999999999", "1E99999999999999999999"),
    "1.00000000000000011102230246251565404236316680908203125",  # 1 + half an ulp: a tie, to even
    "1.00000000000000011102230246251565404236316680908203124",
    "1.000000000000000111022302462515654042363166809082031251",
    _exact_decimal(HALF_SMALLEST_SUBNORMAL),  # a tie between 0 and the smallest subnormal
    _exact_decimal(HALF_SMALLEST_SUBNORMAL) + "1",
    _exact_decimal(HALF_SMALLEST_SUBNORMAL * 3),  # between the two smallest subnormals
]


@pytest.mark.parametrize("number", EDGES)
def test_edge_numbers(number: str) -> None:
    _check([number])


def test_the_power_of_five_table_is_what_the_generator_writes() -> None:
    script = ROOT / "scripts" / "gen_pow5_table.py"
    assert subprocess.run([sys.executable, str(script), "--check"], check=False).returncode == 0


def test_every_table_entry_is_within_one_of_the_scaled_power() -> None:
    """Checked here from the header's text alone, with exact fractions (not by rerunning the generator)."""
    text = (ROOT / "src" / "moorings" / "codecs" / "_pow5_128.h").read_text()
    rows = re.findall(
        r"\{UINT64_C\(0x([0-9a-f]{16})\), UINT64_C\(0x([0-9a-f]{16})\), (-?\d+)\}, /\* 5\^(-?\d+)", text
    )
    assert [int(r[3]) for r in rows] == list(range(-342, 309))
    for hi, lo, e2, q in rows:
        t = (int(hi, 16) << 64) | int(lo, 16)
        shift = int(e2) - int(q) - 64  # 5**q ~= t * 2**shift
        exact = Fraction(5) ** int(q) / Fraction(2) ** shift
        assert 1 << 127 <= t < 1 << 128
        assert abs(t - exact) <= 1, q

"""The numeric-array fast path must give exactly what orjson + numpy give, or step aside."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

from moorings.codecs import json_fast
from moorings.codecs._jsonnum import parse


def test_the_c_helper_is_built() -> None:
    # `make test` installs with a C compiler present: the fast path must be there, not silently missing
    assert json_fast.available()


def _number(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return repr(rng.uniform(-1e3, 1e3))
    if kind == 1:
        return f"{rng.uniform(-1, 1):.{rng.randint(1, 25)}f}"
    if kind == 2:
        return f"{rng.uniform(-10, 10):.{rng.randint(1, 20)}e}"
    if kind == 3:
        return str(rng.randint(-(10**15), 10**15))
    if kind == 4:
        return repr(rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300))
    if kind == 5:
        return "0." + "0" * rng.randint(0, 30) + str(rng.randint(1, 10 ** rng.randint(1, 25)))
    if kind == 6:
        mantissa = f"{rng.randint(1, 10 ** rng.randint(1, 19))}.{rng.randint(0, 10 ** rng.randint(1, 19))}"
        return f"{mantissa}{rng.choice('eE')}{rng.choice(['', '+', '-'])}{rng.randint(0, 330)}"
    return rng.choice(
        ["0", "-0", "0.0", "-0.0", "1e22", "1e23", "9007199254740993.0", "4.9e-324",
         "2.2250738585072014e-308", "1.7976931348623157e308", "123456789012345678901234567890e-20",
         "0.1", "0.30000000000000004", "1E+2", "-1e-7"]
    )  # fmt: skip


def test_random_arrays_match_orjson_bit_for_bit() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        rows, cols = rng.randint(1, 4), rng.randint(1, 6)
        lines = [" , ".join(_number(rng) for _ in range(cols)) for _ in range(rows)]
        text = "[" + ",".join(f"[{line}]" for line in lines) + "]"
        body = text.encode()
        got = parse(body, 0)
        if got is None:
            continue  # stepped aside (e.g. an out-of-range value): the general path decides
        want = np.array(orjson.loads(body), dtype=np.float64)
        data, shape, end = got
        array = np.frombuffer(data, dtype=np.float64).reshape(shape)
        assert end == len(body)
        assert array.shape == want.shape, text
        assert np.array_equal(array.view(np.uint64), want.view(np.uint64)), text
        checked += 1
    assert checked > 2500


def test_digit_runs_of_every_length_and_at_every_distance_from_the_end() -> None:
    """Digits are read up to 8 at a time: runs that end on, before and past a word, and bodies ending soon."""
    numbers = []
    for n in range(1, 21):
        digits = "".join(str((i * 7 + n) % 10) for i in range(n))
        numbers += [
            digits.lstrip("0") or "0",
            f"0.{digits}",
            f"-{n}.{digits}",
            f"{digits[:9].lstrip('0') or '1'}e-{n}",
        ]
    for number in numbers:
        for pad in range(10):
            body = f"[{number}{' ' * pad}]".encode()
            want = np.array(orjson.loads(body), dtype=np.float64)
            got = parse(body, 0)
            if got is None:
                assert number.lstrip("-").isdigit() and len(number.lstrip("-")) > 15, number
                continue
            array = np.frombuffer(got[0], dtype=np.float64)
            assert array.view(np.uint64).tolist() == want.view(np.uint64).tolist(), body


@pytest.mark.parametrize(
    "text",
    [b"[]", b"[[]]", b"[[1],[1,2]]", b"[[1],2]", b"[1,[2]]", b"[1,]", b"[01]", b"[1.]", b"[.5]", b"[+1]",
     b"[1e]", b"[-]", b"[NaN]", b"[Infinity]", b"[true]", b"[null]", b'["1"]', b"[1 2]", b"[1e400]",
     b"[-1e400]", b"[12345678901234567]", b"[1", b"[1,2", b"[0x10]", b"[" * 40 + b"1" + b"]" * 40,
     b'[{"a": 1}]'],
)  # fmt: skip
def test_steps_aside_for_anything_but_a_rectangle_of_plain_numbers(text: bytes) -> None:
    assert parse(text, 0) is None


def test_reads_from_the_given_position_and_reports_the_end() -> None:
    body = b'{"instances":\n [ [1, 2.5]\t,[3,4] ] , "x": 1}'
    start = body.index(b"[")
    data, shape, end = parse(body, start)  # type: ignore[misc]
    assert shape == (2, 2) and body[end:] == b' , "x": 1}'
    assert np.frombuffer(data).tolist() == [1.0, 2.5, 3.0, 4.0]
    assert parse(body, 0) is None and parse(body, len(body)) is None and parse(body, -1) is None


def test_leading_array_keeps_the_other_members() -> None:
    parsed = json_fast.parse_leading_array(b' {"instances": [[1, 2]], "signature_name": "serving_default"} ')
    assert parsed is not None
    assert parsed["signature_name"] == "serving_default"
    np.testing.assert_array_equal(parsed["instances"], [[1.0, 2.0]])
    columns = json_fast.parse_leading_array(b'{"inputs": [3]}')
    assert columns is not None and columns["inputs"].tolist() == [3.0]


def test_named_inputs_are_read_straight_into_arrays() -> None:
    body = b'{"inputs": {"x": [[0.5, 1e-3], [2, -0.25]], "y" : [7]} , "signature_name": "s"}'
    parsed = json_fast.parse_leading_array(body)
    want = orjson.loads(body)
    assert parsed is not None and parsed.keys() == want.keys() and parsed["signature_name"] == "s"
    assert list(parsed["inputs"]) == ["x", "y"]
    for name, array in parsed["inputs"].items():
        expected = np.array(want["inputs"][name], dtype=np.float64)
        assert array.dtype == np.float64
        assert array.view(np.uint64).tolist() == expected.view(np.uint64).tolist()


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": {}}',
        b'{"inputs": {"x": [1], "x": [2]}}',  # a repeated name: orjson's rules apply
        b'{"inputs": {"x": [1], "y": "text"}}',
        b'{"inputs": {"x": [1], "y": {"b64": "AA=="}}}',
        b'{"inputs": {"b64": [1]}}',  # {"b64": ...} is how bytes travel
        b'{"inputs": {"x\\"y": [1]}}',  # an escaped name
        b'{"inputs": {"x": [[1], [2, 3]]}}',
        b'{"inputs": {"x": [1],}}',
        b'{"inputs": {"x": [1]}',
        b'{"inputs": {"x": [1]}, "inputs": 2}',
    ],
)
def test_named_inputs_step_aside(body: bytes) -> None:
    assert json_fast.parse_leading_array(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"signature_name": "s", "instances": [[1, 2]]}',  # another key first
        b'{"instances": [[true, 1]]}',
        b'{"instances": [[1, 2]], "instances": [[3]]}',  # a repeated key: orjson's rules apply
        b'{"instances": [[1, 2]]} trailing',
        b'{"instances": [[1, 2]], }',
        b'{"instances": [[1, 2]] "x": 1}',
        b'{"instances": [[1, 2]], "x": }',
        b'{"inputs": [{"name": "x", "data": [1]}]}',  # KServe V2's form
        b'["instances", [1]]',
    ],
)
def test_leading_array_steps_aside(body: bytes) -> None:
    assert json_fast.parse_leading_array(body) is None


def test_v2_data_arrays_are_read_straight_into_arrays() -> None:
    body = (
        b'{"id": "a\\"data\\": [9]", "inputs": ['
        b'{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4.5]]},'
        b'{"name": "s", "shape": [1], "datatype": "BYTES", "data": ["text"]},'
        b'{"name": "y", "shape": [3], "datatype": "INT32", "data": [1, 2, 3]}]}'
    )
    parsed = json_fast.parse_v2_data_arrays(body)
    assert parsed is not None
    assert parsed["id"] == 'a"data": [9]'  # a "data" inside a string is not a member
    x, s, y = parsed["inputs"]
    assert isinstance(x["data"], np.ndarray) and x["data"].tolist() == [[1.0, 2.0], [3.0, 4.5]]
    assert s["data"] == ["text"]
    assert isinstance(y["data"], np.ndarray) and y["data"].tolist() == [1.0, 2.0, 3.0]
    assert {k: v for k, v in x.items() if k != "data"} == {"name": "x", "shape": [2, 2], "datatype": "FP32"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [{"name": "x", "data": ["a", "b"]}]}',  # no numeric data at all
        b'{"inputs": [{"name": "x", "data": [1], "parameters": {"data": [2]}}]}',  # not an input's data
        b'{"parameters": {"data": [1]}, "inputs": [{"name": "x", "data": [1]}]}',
        b'{"inputs": [{"name": "x", "data": [1], "data": [2]}]}',  # repeated key: orjson's rules apply
        b'{"inputs": [{"name": "x", "data": [1]}] trailing',
        b'{"inputs": [{"name": "x", "data": [1]}], "outputs": [{"name": "y"}],}',
        b'{"inputs": {"name": "x", "data": [1]}}',
    ],
)
def test_v2_data_arrays_step_aside(body: bytes) -> None:
    assert json_fast.parse_v2_data_arrays(body) is None

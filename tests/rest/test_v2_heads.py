"""The cache of parsed KServe V2 JSON headers of binary-only requests."""

from __future__ import annotations

import orjson
import pytest

from moorings.errors import InvalidArgument
from moorings.rest.v2_heads import HeadCache


def head(shape: list[int], request_id: str | None = None, data: bool = False) -> bytes:
    tensor: dict[str, object] = {"name": "x", "datatype": "FP32", "shape": shape}
    if data:
        tensor["data"] = [0.5] * (shape[0] * shape[1])
    else:
        tensor["parameters"] = {"binary_data_size": 4 * shape[0] * shape[1]}
    body: dict[str, object] = {"inputs": [tensor]}
    if request_id is not None:
        body["id"] = request_id
    return orjson.dumps(body)


def test_a_repeated_binary_header_is_parsed_once() -> None:
    cache = HeadCache()
    first = cache.parse(head([1, 4]))
    assert cache.parse(bytes(head([1, 4]))) is first  # equal bytes, another object
    assert first.binary_bytes == 16 and first.inputs[0].shape == (1, 4)
    other = cache.parse(head([2, 4]))
    assert other is not first and other.binary_bytes == 32
    assert len(cache) == 2


def test_headers_with_data_or_over_the_size_limit_are_not_kept() -> None:
    cache = HeadCache(max_head_bytes=200)
    with_data = head([1, 4], data=True)
    assert cache.parse(with_data).inputs[0].data is not None
    assert cache.parse(with_data) is not cache.parse(with_data)
    long_id = head([1, 4], request_id="r" * 300)
    assert cache.parse(long_id).id == "r" * 300
    assert len(cache) == 0


def test_the_oldest_header_goes_first_when_full() -> None:
    cache = HeadCache(entries=2)
    heads = [head([1, 4], request_id=str(i)) for i in range(3)]
    parsed = [cache.parse(h) for h in heads]
    assert len(cache) == 2
    assert cache.parse(heads[2]) is parsed[2] and cache.parse(heads[1]) is parsed[1]
    assert cache.parse(heads[0]) is not parsed[0]  # dropped, parsed again


def test_bad_headers_raise_every_time_and_are_not_kept() -> None:
    cache = HeadCache()
    wrong_size = (
        b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":15}}]}'
    )
    for _ in range(2):
        with pytest.raises(
            InvalidArgument, match=r"15 bytes of data do not fit shape \[1, 4\] of FP32 \(16 bytes\)"
        ):
            cache.parse(wrong_size)
        with pytest.raises(InvalidArgument, match="malformed JSON"):
            cache.parse(b'{"inputs":')
    assert len(cache) == 0

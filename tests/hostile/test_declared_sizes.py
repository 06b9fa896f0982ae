"""A declared shape or count never sizes an allocation before the data behind it is checked.

Each case sends the bytes of a hostile-input finding: a few hundred bytes that declare a huge
tensor. The answer must be a 400 naming the problem, fast, without the server's memory growing
by anything like the declared size (measured with tracemalloc, which sees numpy's allocations).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2
from tritonclient.grpc import service_pb2

from moorings.codecs import tensor_proto
from moorings.errors import InvalidArgument
from moorings.grpc import kserve
from moorings.rest.app import RestApp
from tests.support import onnx_models
from tests.support.asgi import serving_app

LIMIT_BYTES = 16 << 20  # far below any declared size here, far above what a 400 needs


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestApp]:
    root: Path = tmp_path_factory.mktemp("hostile-sizes")
    onnx_models.write_mlp(root / "mlp" / "1")
    with serving_app(root) as served:
        yield served


def post(app: RestApp, path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(path, content=body, headers=headers)

    return asyncio.run(go())


def bounded(call: Callable[[], Any]) -> tuple[Any, int, float]:
    """(result or exception, peak bytes allocated, seconds) of ``call``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result: Any = call()
    except Exception as exc:  # the exception is the result under test
        result = exc
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak, seconds


def test_v2_rest_bytes_shape_of_a_billion_elements(app: RestApp) -> None:
    header = (
        b'{"inputs":[{"name":"x","datatype":"BYTES","shape":[1073741824],'
        b'"parameters":{"binary_data_size":0}}]}'
    )
    headers = {"Inference-Header-Content-Length": str(len(header))}
    response, peak, seconds = bounded(lambda: post(app, "/v2/models/mlp/infer", header, headers))
    assert response.status_code == 400
    assert "the BYTES data ends before element 0 of" in response.json()["error"]
    assert peak < LIMIT_BYTES and seconds < 2


@pytest.mark.parametrize("count", [1 << 28, 1 << 31])
def test_v2_grpc_bytes_shape_with_empty_raw_contents(count: int) -> None:
    request = service_pb2.ModelInferRequest(model_name="mlp")
    tensor = request.inputs.add(name="x", datatype="BYTES")
    tensor.shape.append(count)
    request.raw_input_contents.append(b"")
    assert len(request.SerializeToString()) < 40
    error, peak, seconds = bounded(lambda: kserve.decode_inputs(request))
    assert isinstance(error, InvalidArgument) and "the BYTES data ends before element 0 of" in error.message
    assert peak < LIMIT_BYTES and seconds < 2


def test_v2_grpc_typed_contents_shorter_than_the_shape() -> None:
    request = service_pb2.ModelInferRequest(model_name="mlp")
    tensor = request.inputs.add(name="x", datatype="BYTES")
    tensor.shape.append(1 << 30)
    tensor.contents.bytes_contents.append(b"a")
    error, peak, _ = bounded(lambda: kserve.decode_inputs(request))
    assert isinstance(error, InvalidArgument) and "holds 1 values" in error.message
    assert peak < LIMIT_BYTES


@pytest.mark.parametrize("dtype", [types_pb2.DT_FLOAT, types_pb2.DT_STRING])
def test_tensor_proto_filled_from_one_value(dtype: int) -> None:
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.dim.add().size = 1 << 30
    if dtype == types_pb2.DT_STRING:
        proto.string_val.append(b"a")
    else:
        proto.float_val.append(1.0)
    error, peak, seconds = bounded(lambda: tensor_proto.to_numpy(proto, "input 'x'"))
    assert isinstance(error, InvalidArgument) and "filling a shape from fewer values" in error.message
    assert peak < LIMIT_BYTES and seconds < 2
    small = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    small.tensor_shape.dim.add().size = 1000
    small.float_val.append(2.5)
    assert tensor_proto.to_numpy(small).tolist() == [2.5] * 1000  # TensorFlow's fill still works


def test_more_than_64_dimensions_is_a_400_everywhere(app: RestApp) -> None:
    shape = [1] * 65
    body = orjson.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": [1.0]}]})
    response = post(app, "/v2/models/mlp/infer", body)
    assert response.status_code == 400 and "65 dimensions" in response.json()["error"]

    request = service_pb2.ModelInferRequest(model_name="mlp")
    tensor = request.inputs.add(name="x", datatype="FP32")
    tensor.shape.extend(shape)
    tensor.contents.fp32_contents.append(1.0)
    with pytest.raises(InvalidArgument, match="65 dimensions"):
        kserve.decode_inputs(request)

    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    for _ in shape:
        proto.tensor_shape.dim.add().size = 1
    proto.float_val.append(1.0)
    with pytest.raises(InvalidArgument, match="65 dimensions"):
        tensor_proto.to_numpy(proto)


@pytest.mark.parametrize("leaf", ["text", 1.0])
def test_values_nested_120_lists_deep(app: RestApp, leaf: Any) -> None:
    data: Any = leaf
    for _ in range(120):
        data = [data]
    kind = "BYTES" if isinstance(leaf, str) else "FP32"
    body = orjson.dumps({"inputs": [{"name": "x", "datatype": kind, "shape": [1], "data": data}]})
    response = post(app, "/v2/models/mlp/infer", body)
    assert response.status_code == 400 and "nested more than 64 lists deep" in response.json()["error"]
    rows = post(app, "/v1/models/mlp:predict", orjson.dumps({"instances": [data]}))
    assert rows.status_code == 400

"""Lean asyncio clients for the protocol benchmark: one request body built once, sent over and over.

HTTP/1.1 keep-alive over raw asyncio streams (one connection per concurrent
caller); gRPC over one grpc.aio channel with pre-serialized messages (raw
bytes in and out, so the client does not pay for protobuf per call).
Each call checks that the answer is a success.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import numpy as np
import orjson

Call = Callable[[], Awaitable[None]]


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head[9:12]
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length)
        if status != b"200":
            raise RuntimeError(f"HTTP {status.decode()}: {body[:200]!r}")
        return body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def http_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def rest_json_request(model: str, x: np.ndarray) -> bytes:
    body = orjson.dumps({"instances": x.tolist()})
    return http_request(f"/v1/models/{model}:predict", body, {"Content-Type": "application/json"})


def rest_v2_binary_request(model: str, x: np.ndarray) -> bytes:
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP32",
                    "shape": list(x.shape),
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    return http_request(
        f"/v2/models/{model}/infer",
        header + x.astype("<f4").tobytes(),
        {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
    )


def tfserving_predict_message(model: str, x: np.ndarray) -> bytes:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(x))
    return bytes(request.SerializeToString())


def kserve_infer_message(model: str, x: np.ndarray) -> bytes:
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
    request.raw_input_contents.append(x.astype("<f4").tobytes())
    return bytes(request.SerializeToString())


def grpc_caller(channel: grpc.aio.Channel, method: str, message: bytes) -> Call:
    stub: Any = channel.unary_unary(method)

    async def call() -> None:
        await stub(message, timeout=30)

    return call

"""Clients cannot grow the metrics' label sets, nor put what they like into the request id echoed back."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import grpc
import httpx
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("hostile-observe")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1")
    with running_server(root / "repo", "--data-dir", str(root / "data")) as running:
        yield running


def _unknown_models(server: RunningServer, count: int) -> list[str]:
    names = [f"m{secrets.token_hex(6)}" for _ in range(count)]
    with httpx.Client() as client, grpc.insecure_channel(server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        for i, name in enumerate(names):
            assert (
                client.post(f"{server.url}/v1/models/{name}:predict", json={"instances": [[1]]}).status_code
                == 404
            )
            assert client.get(f"{server.url}/v1/models/{name}/versions/{i + 2}/metadata").status_code == 404
            assert client.post(f"{server.url}/v2/models/{name}/versions/{i}/infer", json={}).status_code in (
                400,
                404,
            )
            assert client.post(
                f"{server.url}/v1/models/mlp/versions/{i + 2}:predict", json={}
            ).status_code in (
                400,
                404,
            )
            with pytest.raises(grpc.RpcError):
                stub.ModelInfer(
                    service_pb2.ModelInferRequest(model_name=name, model_version=str(i)), timeout=10
                )
    return names


def test_unknown_models_and_versions_add_no_label_values(server: RunningServer) -> None:
    _unknown_models(server, 10)
    size = len(httpx.get(f"{server.url}/metrics").content)
    names = _unknown_models(server, 100)
    text = httpx.get(f"{server.url}/metrics").text
    assert not any(name in text for name in names)
    # the counts and the clock-driven process figures change; the series do not multiply
    assert len(text) < size + 2_000


@pytest.mark.parametrize(
    "header",
    [
        b"X-Request-Id: " + b"a" * 129,
        b"X-Request-Id: two words",
        b"X-Request-Id: caf\xc3\xa9",
        b"X-Request-Id: <a\tb>",
        b"traceparent: 00-" + b"f" * 8000 + b"-00f067aa0ba902b7-01",
    ],
)
def test_unusable_request_ids_are_not_echoed(server: RunningServer, header: bytes) -> None:
    body = b'{"instances": [[1, 2, 3, 4]]}'
    request = (
        b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + header
        + b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 200")
    (echoed,) = [
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-request-id:")
    ]
    assert echoed not in header and 1 <= len(echoed) <= 64
    assert all(0x21 <= c <= 0x7E for c in echoed)

"""Both REST front ends (Moorings' own HTTP/1.1 server and uvicorn) behind a real server process.

Real clients: httpx with a pooled keep-alive connection, curl (which sends
``Expect: 100-continue`` for large bodies); and a request whose body is still
arriving when the server gets SIGTERM, which must still be answered.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, onnx_models.Mlp]:
    root = tmp_path_factory.mktemp("front-ends") / "repo"
    mlp = onnx_models.write_mlp(root / "mlp" / "1", n_in=256)
    return root, mlp


@pytest.fixture(scope="module", params=["moorings", "uvicorn"])
def server(request: pytest.FixtureRequest, repo: tuple[Path, onnx_models.Mlp]) -> Iterator[RunningServer]:
    with running_server(repo[0], "--http-server", request.param) as running:
        yield running


def test_keep_alive_client_gets_the_models_answers(
    server: RunningServer, repo: tuple[Path, onnx_models.Mlp]
) -> None:
    rows = np.random.default_rng(0).random((3, 256), dtype=np.float32)
    with httpx.Client(base_url=server.url) as client:
        for _ in range(20):
            r = client.post("/v1/models/mlp:predict", content=orjson.dumps({"instances": rows.tolist()}))
            assert r.status_code == 200
            np.testing.assert_allclose(r.json()["predictions"], repo[1](rows), rtol=1e-5, atol=1e-6)
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v1/models/nope").status_code == 404


def test_bodies_of_several_mib_as_json_and_as_v2_binary(
    server: RunningServer, repo: tuple[Path, onnx_models.Mlp]
) -> None:
    # past the HTTP/1.1 server's first large-body buffer (1 MiB), so it grows while the body arrives
    rows = np.random.default_rng(3).random((1500, 256), dtype=np.float32)
    want = repo[1](rows)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        body = orjson.dumps({"instances": rows.tolist()})
        assert len(body) > 3 * 1024 * 1024
        r = client.post("/v1/models/mlp:predict", content=body)
        assert r.status_code == 200
        np.testing.assert_allclose(r.json()["predictions"], want, rtol=1e-5, atol=1e-6)
        head = orjson.dumps({"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP32",
                                         "parameters": {"binary_data_size": rows.nbytes}}]})  # fmt: skip
        r = client.post("/v2/models/mlp/infer", content=head + rows.tobytes(),
                        headers={"Inference-Header-Content-Length": str(len(head))})  # fmt: skip
        assert r.status_code == 200
        (out,) = r.json()["outputs"]
        np.testing.assert_allclose(np.array(out["data"]).reshape(out["shape"]), want, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_a_large_body_and_expect_continue(
    server: RunningServer, repo: tuple[Path, onnx_models.Mlp], tmp_path: Path
) -> None:
    rows = np.random.default_rng(1).random((200, 256), dtype=np.float32)
    body = tmp_path / "body.json"
    body.write_bytes(orjson.dumps({"instances": rows.tolist()}))
    out = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-H", "Expect: 100-continue", "--data-binary", f"@{body}",
         f"{server.url}/v1/models/mlp:predict"],
        capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    np.testing.assert_allclose(orjson.loads(out.stdout)["predictions"], repo[1](rows), rtol=1e-5, atol=1e-6)


def test_a_request_in_flight_at_sigterm_is_answered(repo: tuple[Path, onnx_models.Mlp]) -> None:
    # its own server, since this test stops it; the request's body is only half sent at SIGTERM
    rows = np.random.default_rng(2).random((50, 256), dtype=np.float32)
    payload = orjson.dumps({"instances": rows.tolist()})
    head = f"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n\r\n"
    with running_server(repo[0]) as running:
        sock = socket.create_connection(("127.0.0.1", running.rest_port))
        sock.sendall(head.encode() + payload[:1000])
        httpx.get(f"{running.url}/v2/health/live")  # a round trip: the server has read the head by now
        running.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(payload[1000:])
        sock.settimeout(30)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert running.process.wait(60) == 0
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK"
    assert b"connection: close" in rest.lower()
    predictions = orjson.loads(rest.partition(b"\r\n\r\n")[2])["predictions"]
    np.testing.assert_allclose(predictions, repo[1](rows), rtol=1e-5, atol=1e-6)

"""Authentication on a real server process: REST (both HTTP front ends' app), both gRPC front ends
with the real clients (tritonclient, tensorflow-serving-api), token reloads and start-up errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from tests.support import onnx_models
from tests.support.server import RunningServer, free_port, running_server

tg = pytest.importorskip("tritonclient.grpc")
th = pytest.importorskip("tritonclient.http")

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-7d3f0b5a"
SECOND = "e2e-second-token-11"
X = np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)


@pytest.fixture(
    scope="module", params=[("grpcio", "moorings"), ("moorings", "uvicorn")], ids=["grpcio", "moorings-grpc"]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """Both gRPC front ends, and both HTTP front ends (Moorings' own, uvicorn)."""
    grpc_server, http_server = request.param
    root = tmp_path_factory.mktemp(f"auth-{grpc_server}")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1", seed=2)
    tokens = root / "tokens"
    tokens.write_text(f"# e2e tokens\n{TOKEN}\n\n{SECOND}\n")
    args = ("--auth-token-file", str(tokens), "--grpc-server", grpc_server, "--http-server", http_server)
    with running_server(root / "repo", *args) as running:
        yield running


def triton_input() -> object:
    tensor = tg.InferInput("x", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X)
    return tensor


def test_rest_needs_a_token_but_not_for_the_probes(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{server.url}/v2/health/live").status_code == 200
    refused = httpx.post(f"{server.url}/v1/models/mlp:predict", json={"instances": X.tolist()})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert "requires a token" in refused.json()["error"]
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"X-API-Key": SECOND}):
        ok = httpx.post(
            f"{server.url}/v1/models/mlp:predict", json={"instances": X.tolist()}, headers=headers
        )
        assert ok.status_code == 200, ok.text
    assert TOKEN not in server.log() and SECOND not in server.log()


def test_tritonclient_grpc_needs_the_token(server: RunningServer) -> None:
    client = tg.InferenceServerClient(server.grpc_target)
    assert client.is_server_live() and client.is_server_ready()  # exempt, as the REST probes
    with pytest.raises(tg.InferenceServerException) as caught:
        client.infer("mlp", [triton_input()])
    assert caught.value.status() == "StatusCode.UNAUTHENTICATED"
    assert "requires a token" in caught.value.message()
    with pytest.raises(tg.InferenceServerException) as wrong:
        client.get_model_metadata("mlp", headers={"authorization": "Bearer not-it"})
    assert wrong.value.status() == "StatusCode.UNAUTHENTICATED"
    result = client.infer("mlp", [triton_input()], headers={"authorization": f"Bearer {TOKEN}"})
    assert result.as_numpy("probabilities").shape == (1, 3)
    assert (
        client.infer("mlp", [triton_input()], headers={"x-api-key": SECOND}).as_numpy("probabilities")
        is not None
    )


def test_a_stream_without_the_token_is_refused(server: RunningServer) -> None:
    """ModelStreamInfer (a bidirectional stream) is behind the gate on grpcio: UNAUTHENTICATED
    before any request of the stream is read, served with the token. The own front end answers
    every stream UNIMPLEMENTED as it opens, token or not."""
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    request = service_pb2.ModelInferRequest(model_name="mlp")
    request.inputs.add(name="x", datatype="FP32", shape=list(X.shape))
    request.raw_input_contents.append(X.tobytes())
    args = list(server.process.args)  # type: ignore[arg-type]
    on_grpcio = args[args.index("--grpc-server") + 1] == "grpcio"
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.ModelStreamInfer(iter([request]), timeout=10))
        if not on_grpcio:
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
            return
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "requires a token" in (caught.value.details() or "")
        token = [("authorization", f"Bearer {TOKEN}")]
        answers = list(stub.ModelStreamInfer(iter([request]), metadata=token, timeout=10))
        assert [a.error_message for a in answers] == [""]


def test_tritonclient_http_needs_the_token(server: RunningServer) -> None:
    client = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    assert client.is_server_live()
    tensor = th.InferInput("x", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X, binary_data=True)
    with pytest.raises(th.InferenceServerException) as caught:
        client.infer("mlp", [tensor])
    assert "401" in str(caught.value.status())
    result = client.infer("mlp", [tensor], headers={"Authorization": f"Bearer {TOKEN}"})
    assert result.as_numpy("probabilities").shape == (1, 3)


def test_search_service_is_behind_the_gate_too(server: RunningServer) -> None:
    from moorings.protos import search_pb2, search_pb2_grpc

    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = search_pb2_grpc.CollectionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListCollections(search_pb2.ListCollectionsRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.ListCollections(
            search_pb2.ListCollectionsRequest(), metadata=[("authorization", f"Bearer {TOKEN}")], timeout=10
        )
        assert list(answer.collections) == []


@pytest.mark.tensorflow
def test_tensorflow_serving_api_needs_the_token(server: RunningServer) -> None:
    pytest.importorskip("tensorflow")
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mlp"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(X))
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.Predict(request, metadata=[("authorization", f"Bearer {TOKEN}")], timeout=30)
        assert tf.make_ndarray(answer.outputs["probabilities"]).shape == (1, 3)


def test_token_file_changes_and_sighup_take_effect(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    tokens = tmp_path / "tokens"
    tokens.write_text("old-token-aaaa\n")
    with running_server(tmp_path / "repo", "--auth-token-file", str(tokens)) as running:
        url = f"{running.url}/v1/models/mlp"

        def status(token: str) -> int:
            return httpx.get(url, headers={"authorization": f"Bearer {token}"}).status_code

        assert status("old-token-aaaa") == 200
        tokens.write_text("new-token-bbbb\n")
        deadline = time.monotonic() + 10
        while status("new-token-bbbb") != 200:  # the file is looked at again about once a second
            assert time.monotonic() < deadline, running.log()
            time.sleep(0.2)
        assert status("old-token-aaaa") == 401
        tokens.write_text("hup-token-cccc\n")
        os.utime(tokens, ns=(1, 1))
        running.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while status("hup-token-cccc") != 200:
            assert time.monotonic() < deadline, running.log()
            time.sleep(0.05)
        assert running.process.poll() is None
        tokens.write_text("")  # a broken file keeps the tokens in force
        running.process.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert status("hup-token-cccc") == 200
        assert "holds no token" in running.log() and "hup-token-cccc" not in running.log()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--auth-token-file", "{tmp}/absent"], "--auth-token-file {tmp}/absent: no such file"),
        (["--auth-token-file", "{tmp}/empty"], "holds no token"),
        (["--admin-port", "{port}"], "--admin-port needs --admin-token-file"),
        (["--admin-token-file", "{tmp}/empty"], "--admin-token-file is given without --admin-port"),
        (["--admin-port", "{port}", "--admin-token-file", "{tmp}/empty"], "--admin-token-file"),
        (
            ["--admin-port", "{port}", "--admin-token-file", "{tmp}/good", "--workers", "2"],
            "cannot be combined with --workers",
        ),
    ],
)
def test_start_up_errors_name_the_problem(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "empty").write_text("# nothing\n")
    (tmp_path / "good").write_text("a-good-token\n")
    port = str(free_port())
    filled = [a.format(tmp=tmp_path, port=port) for a in args]
    done = subprocess.run(
        [sys.executable, "-m", "moorings", "serve", str(tmp_path / "repo"), "--rest-port", str(free_port()),
         "--grpc-port", str(free_port()), *filled],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert message.format(tmp=tmp_path) in done.stderr


def test_workers_check_tokens_and_sighup_reaches_them(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    tokens = tmp_path / "tokens"
    tokens.write_text("worker-token-1\n")
    with running_server(tmp_path / "repo", "--workers", "2", "--auth-token-file", str(tokens)) as running:
        url = f"{running.url}/v1/models/mlp"

        def statuses(token: str) -> set[int]:  # new connections: the kernel spreads them over the workers
            return {httpx.get(url, headers={"x-api-key": token}).status_code for _ in range(12)}

        assert statuses("worker-token-1") == {200} and statuses("nope") == {401}
        tokens.write_text("worker-token-2\n")
        os.utime(tokens, ns=(1, 1))
        running.process.send_signal(signal.SIGHUP)  # forwarded by the parent, which keeps running
        deadline = time.monotonic() + 10
        while statuses("worker-token-2") != {200}:
            assert time.monotonic() < deadline, running.log()
            time.sleep(0.1)
        assert running.process.poll() is None and statuses("worker-token-1") == {401}

"""Python models in a real server process: loading, hot reload, user errors, batching, streaming."""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from tests.support import python_models
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e


def _wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def _publish(staging: Path, model_dir: Path, version: int) -> None:
    """Rename a finished folder into place: a version appears whole."""
    shutil.move(str(staging), str(model_dir / f".tmp-{version}"))
    (model_dir / f".tmp-{version}").rename(model_dir / str(version))


def _predict(url: str, model: str, x: list[list[float]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": x}, timeout=10)


def _events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event type, parsed data) of each server-sent event, as they arrive."""
    kind = "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            yield kind, json.loads(line[len("data: ") :])
            kind = "message"


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("python-models")
    repo = root / "repo"
    python_models.write(repo / "scaler" / "1", python_models.scaler(1.0))
    python_models.write(repo / "counter" / "1", python_models.counter(root / "finite.flag", steps=3))
    python_models.write(repo / "endless" / "1", python_models.counter(root / "endless.flag"))
    python_models.write(repo / "twins" / "1", python_models.scaler(1.0))
    python_models.write(
        repo / "twins" / "2", python_models.scaler(5.0), '[versions]\npolicy = "all"\n[labels]\nstable = 1\n'
    )
    return {"root": root, "repo": repo}


@pytest.fixture(scope="module")
def server(paths: dict[str, Path]) -> Iterator[RunningServer]:
    with running_server(
        paths["repo"], "--allow-python-models", "--batch-timeout-micros", "20000", tfserving_grpc=False
    ) as running:
        yield running


def test_predict_is_batched(server: RunningServer) -> None:
    """Concurrent one-row requests reach the user's predict together, in one call."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _predict(server.url, "scaler", [[i, i]]), range(16)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    rows = [a.json()["predictions"][0]["rows"] for a in answers]
    assert max(rows) > 1, rows
    ys = sorted(a.json()["predictions"][0]["y"][0] for a in answers)
    assert ys == [float(i) for i in range(16)]


def test_two_versions_of_one_model_py_serve_side_by_side(server: RunningServer) -> None:
    """The same file and class names, each version its own module: neither sees the other's code;
    a version label names one as for any model."""
    for where, factor in (("versions/1", 1.0), ("versions/2", 5.0), ("labels/stable", 1.0)):
        answer = httpx.post(
            f"{server.url}/v1/models/twins/{where}:predict", json={"instances": [[1, 2]]}, timeout=10
        )
        assert answer.json()["predictions"][0]["y"] == [factor, 2 * factor]


def test_exception_in_predict_is_a_500_with_its_first_line(server: RunningServer) -> None:
    answer = _predict(server.url, "scaler", [[-1, 2]])
    assert answer.status_code == 500
    message = answer.json()["error"]
    assert message == "model.py predict raised ZeroDivisionError: negative input"
    assert "Traceback" not in answer.text and "/etc/passwd" not in answer.text
    assert _predict(server.url, "scaler", [[1, 2]]).status_code == 200  # the server is up


def test_hot_reload_loads_the_new_code_and_a_broken_version_keeps_the_old(
    server: RunningServer, paths: dict[str, Path]
) -> None:
    model_dir = paths["repo"] / "scaler"
    staging = paths["root"] / "staging"
    python_models.write(staging / "2", python_models.scaler(3.0))
    _publish(staging / "2", model_dir, 2)

    def scaled_by(factor: float) -> bool:
        answer = _predict(server.url, "scaler", [[1, 2]])
        return answer.status_code == 200 and answer.json()["predictions"][0]["y"] == [factor, 2 * factor]

    _wait_for(lambda: scaled_by(3.0), 20)  # the same class and file name, the new code

    python_models.write(staging / "3", "class Broken:\n    def predict(self, batch)\n        return batch\n")
    _publish(staging / "3", model_dir, 3)

    def failed() -> list[dict[str, Any]]:
        status = httpx.get(f"{server.url}/v1/models/scaler", timeout=10).json()
        return [v for v in status["model_version_status"] if v["version"] == "3" and v["state"] == "END"]

    _wait_for(lambda: bool(failed()), 20)
    error = failed()[0]["status"]["error_message"]
    assert "model.py line 2" in error
    assert str(paths["repo"]) not in error
    assert scaled_by(3.0)  # version 2 keeps serving


def test_sse_stream(server: RunningServer) -> None:
    url = f"{server.url}/v2/models/counter/generate_stream"
    with httpx.stream("POST", url, json={"n": 10, "id": "r1"}, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        events = list(_events(response))
    assert [data["count"] for _, data in events] == [10, 11, 12]
    assert all(kind == "message" and data["model_name"] == "counter" for kind, data in events)
    assert events[0][1]["id"] == "r1"


def test_sse_stream_of_a_model_that_does_not_stream_is_one_event(server: RunningServer) -> None:
    url = f"{server.url}/v2/models/scaler/generate_stream"
    with httpx.stream("POST", url, json={"x": [1, 2]}, timeout=10) as response:
        events = list(_events(response))
    assert len(events) == 1 and events[0][1]["y"][0] == 1.0 * events[0][1]["y"][1] / 2


def test_sse_bad_input_is_a_plain_400(server: RunningServer) -> None:
    answer = httpx.post(f"{server.url}/v2/models/counter/generate_stream", json={"m": 1}, timeout=10)
    assert answer.status_code == 400
    assert "unknown input(s) 'm'" in answer.json()["error"]


def test_client_disconnecting_closes_the_generator(server: RunningServer, paths: dict[str, Path]) -> None:
    flag = paths["root"] / "endless.flag"
    url = f"{server.url}/v2/models/endless/generate_stream"
    with httpx.stream("POST", url, json={"n": 0}, timeout=10) as response:
        events = _events(response)
        assert [next(events)[1]["count"] for _ in range(3)] == [0, 1, 2]
    _wait_for(flag.exists, 10)  # the endless generator's finally ran: it was closed
    assert _predict(server.url, "scaler", [[1, 2]]).status_code == 200


def test_grpc_stream_with_tritonclient(server: RunningServer) -> None:
    answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
    client = triton.InferenceServerClient(server.grpc_target)
    x = triton.InferInput("x", [1, 2], "FP32")
    x.set_data_from_numpy(np.array([[1, 2]], np.float32))
    assert client.infer("scaler", [x]).as_numpy("y").shape == (1, 2)  # unary, batched like REST
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        for start in (5, 100):
            n = triton.InferInput("n", [1], "INT64")
            n.set_data_from_numpy(np.array([start], np.int64))
            client.async_stream_infer("counter", [n], request_id=str(start))
        got = [answers.get(timeout=10) for _ in range(6)]
    finally:
        client.stop_stream()
        client.close()
    assert all(error is None for _, error in got), got
    counts = [int(result.as_numpy("count")[0]) for result, _ in got]
    assert counts == [5, 6, 7, 100, 101, 102]
    assert [result.get_response().id for result, _ in got] == ["5"] * 3 + ["100"] * 3
    counted = [
        line
        for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines()
        if line.startswith("moorings_requests_total") and 'kind="stream"' in line
    ]
    assert any('model="counter"' in line and 'code="OK"' in line for line in counted), counted


def test_grpc_stream_cancelled_by_the_client_closes_the_generator(
    server: RunningServer, paths: dict[str, Path]
) -> None:
    flag = paths["root"] / "endless.flag"
    flag.unlink(missing_ok=True)
    answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
    client = triton.InferenceServerClient(server.grpc_target)
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        n = triton.InferInput("n", [1], "INT64")
        n.set_data_from_numpy(np.array([0], np.int64))
        client.async_stream_infer("endless", [n])
        got = [answers.get(timeout=10) for _ in range(3)]
        assert [int(result.as_numpy("count")[0]) for result, _ in got] == [0, 1, 2]
    finally:
        client.stop_stream(cancel_requests=True)
        client.close()
    _wait_for(flag.exists, 10)


def test_without_the_flag_model_py_is_refused_and_streams_are_unimplemented_on_own_grpc(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    python_models.write(repo / "scaler" / "1", python_models.scaler(1.0))
    marker = tmp_path / "imported"
    python_models.write(repo / "spy" / "1", f"open({str(marker)!r}, 'w').close()\n")
    with running_server(repo, "--grpc-server", "moorings", tfserving_grpc=False, wait_ready=False) as server:

        def refused() -> str:
            status = httpx.get(f"{server.url}/v1/models/scaler", timeout=10).json()
            return str(status["model_version_status"][0]["status"]["error_message"])

        _wait_for(lambda: "--allow-python-models" in refused(), 20)
        assert "server's rights" in refused()
        answer = _predict(server.url, "scaler", [[1, 2]])
        assert answer.status_code == 503 and "--allow-python-models" in answer.json()["error"]
        assert not marker.exists()  # no line of a model.py ran

        errors: queue.Queue[Any] = queue.Queue()
        client = triton.InferenceServerClient(server.grpc_target)
        client.start_stream(callback=lambda result, error: errors.put(error))
        try:
            n = triton.InferInput("n", [1], "INT64")
            n.set_data_from_numpy(np.array([1], np.int64))
            with contextlib.suppress(InferenceServerException):
                # refused when the call opens: the stream may be over before this request is sent
                client.async_stream_infer("scaler", [n])
            error = errors.get(timeout=10)
        finally:
            client.stop_stream()
            client.close()
        assert error is not None and "StatusCode.UNIMPLEMENTED" in str(error.status())
        assert "streaming method" in error.message()


def test_sse_under_uvicorn_and_unary_grpc_on_the_own_front_end(tmp_path: Path) -> None:
    """The ASGI path streams too, and a client leaving closes the generator there as well; a
    Python model's unary calls are served by Moorings' own gRPC front end."""
    repo = tmp_path / "repo"
    python_models.write(repo / "counter" / "1", python_models.counter(tmp_path / "finite.flag", steps=3))
    python_models.write(repo / "endless" / "1", python_models.counter(tmp_path / "endless.flag"))
    with running_server(
        repo,
        "--allow-python-models",
        "--http-server",
        "uvicorn",
        "--grpc-server",
        "moorings",
        tfserving_grpc=False,
    ) as server:
        url = f"{server.url}/v2/models/counter/generate_stream"
        with httpx.stream("POST", url, json={"n": 1}, timeout=10) as response:
            assert response.headers["content-type"] == "text/event-stream"
            assert [data["count"] for _, data in _events(response)] == [1, 2, 3]
        with httpx.stream(
            "POST", f"{server.url}/v2/models/endless/generate_stream", json={"n": 0}, timeout=10
        ) as response:
            events = _events(response)
            assert [next(events)[1]["count"] for _ in range(2)] == [0, 1]
        _wait_for((tmp_path / "endless.flag").exists, 10)

        client = triton.InferenceServerClient(server.grpc_target)
        n = triton.InferInput("n", [2], "INT64")
        n.set_data_from_numpy(np.array([4, 9], np.int64))
        assert client.infer("counter", [n]).as_numpy("count").tolist() == [4, 9]
        client.close()

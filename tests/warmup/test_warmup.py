"""Warm-up through a real Manager, Loader and DataPlane with ONNX models and warmup.json files."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.errors import Unavailable
from moorings.repository.source import LocalSource
from moorings.types import ModelRef, VersionState
from moorings.warmup import WarmUp
from moorings.warmup.tfrecord import encode_record
from tests.support import onnx_models

TF_FILE = "assets.extra/tf_serving_warmup_requests"
ROW = [0.1, 0.2, 0.3, 0.4]
GOOD = [
    {"predict": {"instances": [ROW]}},
    {"predict": {"inputs": {"x": [ROW, ROW]}}},
    {"infer": {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}},
]


class Server:
    def __init__(self, root: Path, max_records: int = 1000, seconds: float = 60) -> None:
        self.root = root
        loader = Loader(root)
        self.manager = Manager(LocalSource(root), loader)
        self.dataplane = DataPlane(self.manager, inference_threads=1)
        loader.warmup = WarmUp(self.dataplane, max_records=max_records, seconds=seconds)

    def poll(self) -> None:
        self.manager.poll_once()
        assert self.manager.wait_until_idle(60)

    def states(self) -> dict[int, tuple[VersionState, str | None]]:
        status = self.manager.status(ModelRef("mlp"))
        return {v.version: (v.state, v.error) for v in status.versions}

    def close(self) -> None:
        self.manager.stop()
        self.dataplane.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "repo")
    yield s
    s.close()


def write(folder: Path, items: object) -> None:
    (folder / "warmup.json").write_text(json.dumps(items))


def test_warmup_json_runs_every_request_through_the_batcher_before_available(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    folder = server.root / "mlp" / "1"
    onnx_models.write_mlp(folder)
    write(folder, GOOD)
    with caplog.at_level(logging.INFO, logger="moorings.warmup"):
        server.poll()
    assert server.states() == {1: (VersionState.AVAILABLE, None)}
    assert "warmed up mlp version 1 with 3 request(s)" in caplog.text
    with server.manager.acquire(ModelRef("mlp")) as servable:
        assert servable.batcher is not None
        assert servable.batcher.small_call_seconds is not None  # the model ran before any client request


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"predict": {"instances": [[1.0, 2.0]]}}], "warm-up failed at warmup.json item 0: input 'x'"),
        (
            [*GOOD, {"predict": {"signature_name": "nope", "instances": [ROW]}}],
            "item 3: .*no signature 'nope'",
        ),
        (
            [{"infer": {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1]}]}}],
            "item 0",
        ),
        ([{"predict": {"instances": [ROW]}, "infer": {}}], "item 0: must be an object with one key"),
        ({"predict": {}}, "must hold a JSON list"),
        ([{"explain": {}}], "one of predict, infer, classify, regress"),
    ],
)
def test_a_request_the_model_refuses_fails_the_load(server: Server, items: object, message: str) -> None:
    folder = server.root / "mlp" / "1"
    onnx_models.write_mlp(folder)
    write(folder, items)
    server.poll()
    ((state, error),) = server.states().values()
    assert state is VersionState.END
    assert error is not None
    assert re.search(message, error), error
    assert str(server.root) not in error
    with pytest.raises(Unavailable, match="failed to load"):
        server.manager.acquire(ModelRef("mlp"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("warmup.json", b"[{", "warmup.json is not valid JSON"),
        ("warmup.json", b"\xff\xfe", "warmup.json is not valid JSON"),
        (TF_FILE, b"\x05\x00\x00", "truncated in the header of record 0"),
        (TF_FILE, encode_record(b"x")[:-1] + b"\x00", "data CRC of record 0"),
        pytest.param(
            TF_FILE,
            encode_record(b"\xff\xff\xff"),
            "record 0 is not a PredictionLog",
            marks=pytest.mark.tensorflow,  # the PredictionLog class comes with tensorflow-serving-api
        ),
    ],
)
def test_a_corrupt_warmup_file_fails_the_new_version_and_the_old_keeps_serving(
    server: Server, name: str, content: bytes, message: str
) -> None:
    onnx_models.write_mlp(server.root / "mlp" / "1", seed=1)
    server.poll()
    assert server.states() == {1: (VersionState.AVAILABLE, None)}
    new = server.root / "mlp" / "2"
    onnx_models.write_mlp(new, seed=2)
    (new / name).parent.mkdir(parents=True, exist_ok=True)
    (new / name).write_bytes(content)
    server.poll()
    states = server.states()
    assert states[1] == (VersionState.AVAILABLE, None)
    assert states[2][0] is VersionState.END
    assert message in (states[2][1] or "")
    with server.manager.acquire(ModelRef("mlp")) as servable:
        assert servable.id.version == 1
    # fixed files are retried: the version loads and replaces version 1
    (new / name).unlink()
    write(new, GOOD)
    server.poll()
    server.poll()
    assert server.states() == {2: (VersionState.AVAILABLE, None)}


def test_more_requests_than_the_bound_fail_the_load(tmp_path: Path) -> None:
    server = Server(tmp_path / "repo", max_records=2)
    try:
        folder = server.root / "mlp" / "1"
        onnx_models.write_mlp(folder)
        write(folder, GOOD)
        server.poll()
        ((state, error),) = server.states().values()
        assert state is VersionState.END
        assert "warmup.json holds 3 requests; at most 2" in (error or "")
    finally:
        server.close()


def test_a_warmup_that_outlasts_its_time_fails_the_load(tmp_path: Path) -> None:
    from tests.e2e.test_batching_queue import WIDTH, write_slow_model

    server = Server(tmp_path / "repo", seconds=0.3)
    try:
        folder = server.root / "mlp" / "1"
        write_slow_model(folder, layers=400)
        rows = np.full((64, WIDTH), 0.5).tolist()
        write(folder, [{"predict": {"instances": rows}}] * 50)
        server.poll()
        ((state, error),) = server.states().values()
        assert state is VersionState.END
        assert "warm-up did not finish within 0.3 s" in (error or "")
    finally:
        server.close()


def test_a_version_without_warmup_files_loads_as_before(server: Server) -> None:
    onnx_models.write_mlp(server.root / "mlp" / "1")
    server.poll()
    assert server.states() == {1: (VersionState.AVAILABLE, None)}


@pytest.mark.tensorflow  # the descriptors come from the installed tensorflow-serving-api and tensorflow
def test_tf_serving_warmup_file_on_an_onnx_model_never_imports_tensorflow(tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
import numpy as np
from moorings.codecs import tensor_proto
from moorings.types import ModelRef
from moorings.warmup.prediction_log import _prediction_log_class
from moorings.warmup.tfrecord import encode_record
from tests.support import onnx_models
from tests.warmup.test_warmup import Server

root = Path({str(tmp_path)!r}) / "repo"
folder = root / "mlp" / "1"
onnx_models.write_mlp(folder)
log = _prediction_log_class()()
tensor_proto.from_numpy(np.ones((2, 4), np.float32), log.predict_log.request.inputs["x"], typed=True)
(folder / "assets.extra").mkdir()
(folder / "assets.extra" / "tf_serving_warmup_requests").write_bytes(encode_record(log.SerializeToString()))
server = Server(root)
server.poll()
with server.manager.acquire(ModelRef("mlp")) as servable:
    ran = servable.batcher.small_call_seconds is not None
print(server.states()[1][0].name, ran, "tensorflow" in sys.modules)
server.close()
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-3:] == ["AVAILABLE", "True", "False"], done.stdout + done.stderr

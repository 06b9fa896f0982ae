"""TFLite and torch.export models through a real server: TF Serving REST, KServe V2 REST, batching,
broken new versions, and an ONNX-only server that never loads torch or LiteRT."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

litert = pytest.importorskip("ai_edge_litert.interpreter")
torch = pytest.importorskip("torch")
from tests.support import torch_models  # noqa: E402

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tflite"
RNG = np.random.default_rng(21)
FEATURES = RNG.normal(size=(16, 4)).astype(np.float32)
IDS = RNG.integers(0, 10, size=(16, 3)).astype(np.int32)


def tflite_direct(fixture: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    interpreter = litert.Interpreter(model_path=str(FIXTURES / f"{fixture}.tflite"))
    result: dict[str, np.ndarray] = interpreter.get_signature_runner()(**inputs)
    return result


def torch_direct(module: torch.nn.Module, x: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = module(torch.tensor(x), torch.tensor(ids, dtype=torch.int64))
    return {name: value.numpy() for name, value in out.items()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    root = tmp_path_factory.mktemp("runtimes") / "repo"
    for name, fixture in (("tfl", "two_heads"), ("tfl1", "batch1")):
        (root / name / "1").mkdir(parents=True)
        shutil.copyfile(FIXTURES / f"{fixture}.tflite", root / name / "1" / "model.tflite")
    module = torch_models.two_heads(seed=5)
    example = (torch.tensor(FEATURES[:2]), torch.tensor(IDS[:2], dtype=torch.int64))
    torch_models.export(module, example, root / "pt" / "1")
    return root, module


@pytest.fixture(scope="module")
def server(repo: tuple[Path, torch.nn.Module]) -> Iterator[RunningServer]:
    args = ("--allow-unsafe-pickle", "--max-batch-size", "16", "--batch-timeout-micros", "50000")
    with running_server(repo[0], *args, tfserving_grpc=False) as running:
        yield running


def test_tflite_over_tf_serving_rest(server: RunningServer) -> None:
    rows = [{"features": f.tolist(), "ids": i.tolist()} for f, i in zip(FEATURES[:3], IDS[:3], strict=True)]
    r = httpx.post(f"{server.url}/v1/models/tfl:predict", json={"instances": rows}, timeout=30)
    assert r.status_code == 200, r.text
    want = tflite_direct("two_heads", features=FEATURES[:3], ids=IDS[:3])
    predictions = r.json()["predictions"]
    for name in ("probabilities", "score"):
        np.testing.assert_allclose([p[name] for p in predictions], want[name], rtol=1e-6)


def test_tflite_over_kserve_v2(server: RunningServer) -> None:
    body = {
        "inputs": [
            {"name": "features", "shape": [2, 4], "datatype": "FP32", "data": FEATURES[:2].ravel().tolist()},
            {"name": "ids", "shape": [2, 3], "datatype": "INT32", "data": IDS[:2].ravel().tolist()},
        ]
    }
    r = httpx.post(f"{server.url}/v2/models/tfl/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    want = tflite_direct("two_heads", features=FEATURES[:2], ids=IDS[:2])
    assert outputs["probabilities"]["shape"] == [2, 3]
    np.testing.assert_allclose(np.reshape(outputs["score"]["data"], (2, 1)), want["score"], rtol=1e-6)
    metadata = httpx.get(f"{server.url}/v2/models/tfl", timeout=30).json()
    assert {i["name"]: i["shape"] for i in metadata["inputs"]} == {"features": [-1, 4], "ids": [-1, 3]}


def test_torch_over_tf_serving_rest_and_kserve_v2(
    server: RunningServer, repo: tuple[Path, torch.nn.Module]
) -> None:
    want = torch_direct(repo[1], FEATURES[:3], IDS[:3])
    columnar = {"inputs": {"x": FEATURES[:3].tolist(), "ids": IDS[:3].tolist()}}
    r = httpx.post(f"{server.url}/v1/models/pt:predict", json=columnar, timeout=30)
    assert r.status_code == 200, r.text
    outputs = r.json()["outputs"]
    np.testing.assert_allclose(outputs["probabilities"], want["probabilities"], rtol=1e-6)
    assert outputs["id_sum"] == want["id_sum"].tolist()

    body = {
        "inputs": [
            {"name": "x", "shape": [3, 4], "datatype": "FP32", "data": FEATURES[:3].ravel().tolist()},
            {"name": "ids", "shape": [3, 3], "datatype": "INT64", "data": IDS[:3].ravel().tolist()},
        ]
    }
    r = httpx.post(f"{server.url}/v2/models/pt/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    v2 = {o["name"]: o for o in r.json()["outputs"]}
    assert (v2["id_sum"]["datatype"], v2["id_sum"]["data"]) == ("INT64", want["id_sum"].tolist())
    np.testing.assert_allclose(
        np.reshape(v2["probabilities"]["data"], (3, 3)), want["probabilities"], rtol=1e-6
    )


def _batch_counts(server: RunningServer, model: str) -> tuple[float, float]:
    """(batched calls, rows in them) of ``model`` version 1 so far, from /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    found = {}
    for kind in ("count", "sum"):
        pattern = rf'^moorings_batch_size_{kind}\{{[^}}]*model="{model}"[^}}]*\}} (\S+)$'
        match = re.search(pattern, text, re.MULTILINE)
        found[kind] = float(match.group(1)) if match else 0.0
    return found["count"], found["sum"]


async def _one_row_each(url: str, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=len(bodies))) as client:
        return await asyncio.gather(*(client.post(url, json=body) for body in bodies))


@pytest.mark.parametrize("model", ["tfl1", "pt"])
def test_concurrent_single_rows_are_batched(
    server: RunningServer, repo: tuple[Path, torch.nn.Module], model: str
) -> None:
    calls_before, rows_before = _batch_counts(server, model)
    if model == "tfl1":
        bodies = [{"instances": [{"x": row.tolist()}]} for row in FEATURES]
        want = [tflite_direct("batch1", x=FEATURES[i : i + 1])["y"][0] for i in range(len(FEATURES))]
    else:
        bodies = [
            {"instances": [{"x": f.tolist(), "ids": i.tolist()}]} for f, i in zip(FEATURES, IDS, strict=True)
        ]
        want = list(torch_direct(repo[1], FEATURES, IDS)["probabilities"])
    responses = asyncio.run(_one_row_each(f"{server.url}/v1/models/{model}:predict", bodies))
    assert [r.status_code for r in responses] == [200] * len(bodies), responses[0].text
    for response, expected in zip(responses, want, strict=True):
        prediction = response.json()["predictions"][0]
        got = prediction if model == "tfl1" else prediction["probabilities"]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    calls, rows = _batch_counts(server, model)
    assert rows - rows_before == len(bodies)
    assert calls - calls_before < len(bodies), "no two requests shared a model call"


def _wait_for_state(server: RunningServer, model: str, version: str, state: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.url}/v1/models/{model}", timeout=30).json()["model_version_status"]
        found = next((s for s in status if s["version"] == version and s["state"] == state), None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"{model} version {version} never reached {state}")


@pytest.mark.parametrize(
    ("model", "file", "message"),
    [("tfl", "model.tflite", "could not be loaded by LiteRT"), ("pt", "model.pt2", "corrupt or truncated")],
)
def test_a_corrupt_new_version_leaves_the_old_one_serving(
    server: RunningServer, repo: tuple[Path, torch.nn.Module], model: str, file: str, message: str
) -> None:
    root = repo[0]
    data = (root / model / "1" / file).read_bytes()
    staging = root.parent / f"staging-{model}"
    staging.mkdir()
    (staging / file).write_bytes(data[: len(data) // 2])
    staging.rename(root / model / "2")
    failed = _wait_for_state(server, model, "2", "END")
    error = failed["status"]["error_message"]  # type: ignore[index]
    assert message in error and str(root) not in error
    row = {"x" if model == "pt" else "features": FEATURES[0].tolist(), "ids": IDS[0].tolist()}
    r = httpx.post(f"{server.url}/v1/models/{model}:predict", json={"instances": [row]}, timeout=30)
    assert r.status_code == 200, r.text
    assert server.process.poll() is None


def _mapped_from(pid: int, package: str) -> list[str]:
    """The files of ``package`` mapped into process ``pid`` (none when it is not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    folders = tuple(str(Path(p).resolve()) + "/" for p in spec.submodule_search_locations)
    mapped = {line.split(maxsplit=5)[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()}
    return sorted(f for f in mapped if f.startswith(folders))


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")
def test_serving_tflite_needs_no_tensorflow(server: RunningServer) -> None:
    r = httpx.get(f"{server.url}/v2/models/tfl/ready", timeout=30)
    assert r.status_code == 200
    assert _mapped_from(server.process.pid, "ai_edge_litert") != []
    assert _mapped_from(server.process.pid, "tensorflow") == []


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")
def test_an_onnx_only_server_loads_neither_torch_nor_litert(tmp_path: Path) -> None:
    mlp = onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1", seed=2)
    with running_server(tmp_path / "repo", tfserving_grpc=False) as running:
        x = FEATURES[:2]
        r = httpx.post(f"{running.url}/v1/models/mlp:predict", json={"instances": x.tolist()}, timeout=30)
        np.testing.assert_allclose(r.json()["predictions"], mlp(x), rtol=1e-5)
        assert _mapped_from(running.process.pid, "torch") == []
        assert _mapped_from(running.process.pid, "ai_edge_litert") == []

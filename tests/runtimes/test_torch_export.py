"""The torch.export runtime on modules exported by the tests themselves."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError
from moorings.runtimes import detect, runtime_class
from moorings.runtimes.row_range import RowRange

torch = pytest.importorskip("torch")
from moorings.runtimes.torch_export import TorchExportRuntime  # noqa: E402
from tests.support import torch_models  # noqa: E402
from tests.support.concurrent_calls import assert_concurrent_answers  # noqa: E402

TRUSTED = RuntimeOptions(allow_unsafe_pickle=True)


def loaded(folder: Path, options: RuntimeOptions = TRUSTED) -> TorchExportRuntime:
    runtime = TorchExportRuntime(folder, options)
    runtime.load()
    return runtime


def inputs(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(rows, 4)).astype(np.float32),
        "ids": rng.integers(0, 10, size=(rows, 3)).astype(np.int64),
    }


def module_answer(module: torch.nn.Module, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = module(torch.tensor(feeds["x"]), torch.tensor(feeds["ids"]))
    return {name: value.numpy() for name, value in out.items()}


@pytest.fixture(scope="module")
def two_heads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("two-heads") / "1"
    module = torch_models.two_heads(seed=3)
    example = tuple(torch.from_numpy(v) for v in inputs(2).values())
    torch_models.export(module, example, folder)
    return folder, module


def test_detected_by_its_file(two_heads: tuple[Path, torch.nn.Module]) -> None:
    assert detect(two_heads[0]) == "torch"
    assert runtime_class("torch") is TorchExportRuntime


def test_refused_without_the_pickle_opt_in(two_heads: tuple[Path, torch.nn.Module]) -> None:
    with pytest.raises(LoadError, match="--allow-unsafe-pickle"):
        loaded(two_heads[0], RuntimeOptions())


def test_signature_from_the_exported_program(two_heads: tuple[Path, torch.nn.Module]) -> None:
    signature = loaded(two_heads[0]).signatures["serving_default"]
    described = {n: (s.dtype.name, s.shape) for n, s in {**signature.inputs, **signature.outputs}.items()}
    assert described == {
        "x": ("float32", (-1, 4)),
        "ids": ("int64", (-1, 3)),
        "probabilities": ("float32", (-1, 3)),
        "id_sum": ("int64", (-1,)),
    }


@pytest.mark.parametrize("rows", [1, 2, 7])
def test_answers_equal_the_modules(two_heads: tuple[Path, torch.nn.Module], rows: int) -> None:
    folder, module = two_heads
    runtime = loaded(folder)
    feeds = inputs(rows, seed=rows)
    served = runtime.predict(runtime.signatures["serving_default"], feeds)
    want = module_answer(module, feeds)
    assert set(served) == set(want)
    for name in want:
        np.testing.assert_array_equal(served[name], want[name])


def test_read_only_inputs_are_served(two_heads: tuple[Path, torch.nn.Module]) -> None:
    folder, module = two_heads
    runtime = loaded(folder)
    feeds = inputs(3)
    for value in feeds.values():
        value.flags.writeable = False  # as decoded straight from a request body
    served = runtime.predict(runtime.signatures["serving_default"], feeds)
    np.testing.assert_array_equal(served["probabilities"], module_answer(module, feeds)["probabilities"])


def test_tuple_outputs_are_named_by_position(tmp_path: Path) -> None:
    torch_models.export(torch_models.Pair(), (torch.ones(2, 3),), tmp_path)
    runtime = loaded(tmp_path)
    signature = runtime.signatures["serving_default"]
    assert list(signature.outputs) == ["output_0", "output_1"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    served = runtime.predict(signature, {"x": x})
    np.testing.assert_array_equal(served["output_0"], x * 2)
    np.testing.assert_array_equal(served["output_1"], x.sum(axis=1, keepdims=True))


def test_a_bounded_batch_is_kept_by_splitting_and_padding(tmp_path: Path) -> None:
    batch = torch.export.Dim("batch", min=2, max=4)
    torch_models.export(torch_models.Pair(), (torch.ones(3, 3),), tmp_path, batch=batch)
    runtime = loaded(tmp_path)
    assert runtime._rows == RowRange(2, 4)
    signature = runtime.signatures["serving_default"]
    for rows in (1, 4, 9):
        x = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
        served = runtime.predict(signature, {"x": x})
        np.testing.assert_array_equal(served["output_0"], x * 2)
        np.testing.assert_array_equal(served["output_1"], x.sum(axis=1, keepdims=True))


def test_static_shapes_are_served_as_declared(tmp_path: Path) -> None:
    torch_models.export(torch_models.Pair(), (torch.ones(2, 3),), tmp_path, batch=None)
    runtime = loaded(tmp_path)
    signature = runtime.signatures["serving_default"]
    assert signature.inputs["x"].shape == (2, 3)
    assert runtime._rows is None


def test_a_shape_the_program_refuses_is_invalid_argument(two_heads: tuple[Path, torch.nn.Module]) -> None:
    runtime = loaded(two_heads[0])
    feeds = {"x": np.zeros((2, 5), np.float32), "ids": np.zeros((2, 3), np.int64)}
    with pytest.raises(InvalidArgument, match="rejected the input"):
        runtime.predict(runtime.signatures["serving_default"], feeds)


def test_concurrent_calls_get_their_own_answers(two_heads: tuple[Path, torch.nn.Module]) -> None:
    folder, module = two_heads
    runtime = loaded(folder)
    signature = runtime.signatures["serving_default"]
    calls = [inputs(n, seed=i) for i, n in enumerate((1, 3, 5, 8) * 6)]
    want = [module_answer(module, call) for call in calls]
    assert_concurrent_answers(runtime, signature, calls, want, threads=6)


def test_truncated_archive_is_a_load_error(two_heads: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    data = (two_heads[0] / "model.pt2").read_bytes()
    (tmp_path / "model.pt2").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="corrupt or truncated"):
        loaded(tmp_path)


def test_a_zip_that_is_not_an_exported_program_is_a_load_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "model.pt2", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    with pytest.raises(LoadError, match=r"could not be loaded by torch\.export"):
        loaded(tmp_path)


def test_damaged_program_is_a_load_error(two_heads: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    with zipfile.ZipFile(two_heads[0] / "model.pt2") as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(tmp_path / "model.pt2", "w") as target:
        for name, data in entries:
            target.writestr(name, data[: len(data) // 2] if name.endswith("models/model.json") else data)
    with pytest.raises(LoadError, match=r"could not be loaded by torch\.export"):
        loaded(tmp_path)


class DictArgument(torch.nn.Module):
    def forward(self, batch: dict[str, torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
        return (batch["a"] + batch["b"]) * scale


def test_nested_arguments_are_fed_through_the_programs_input_tree(tmp_path: Path) -> None:
    rows = torch.export.Dim("rows")
    example = ({"a": torch.ones(2, 3), "b": torch.ones(2, 3)}, torch.ones(2, 1))
    shapes = {"batch": {"a": {0: rows}, "b": {0: rows}}, "scale": {0: rows}}
    program = torch.export.export(DictArgument(), example, dynamic_shapes=shapes)
    torch.export.save(program, tmp_path / "model.pt2")
    runtime = loaded(tmp_path)
    signature = runtime.signatures["serving_default"]
    assert {n: s.shape for n, s in signature.inputs.items()} == {
        "batch_a": (-1, 3),
        "batch_b": (-1, 3),
        "scale": (-1, 1),
    }
    a, b = np.ones((4, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3)
    scale = np.arange(4, dtype=np.float32).reshape(4, 1)
    served = runtime.predict(signature, {"batch_a": a, "batch_b": b, "scale": scale})
    np.testing.assert_array_equal(served["output_0"], (a + b) * scale)


def test_a_program_failing_on_its_own_example_inputs_is_a_load_error(
    two_heads: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    wrong = io.BytesIO()
    torch.save(((torch.zeros(2, 5), torch.zeros(2, 3, dtype=torch.int64)), {}), wrong)
    with zipfile.ZipFile(two_heads[0] / "model.pt2") as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(tmp_path / "model.pt2", "w") as target:
        for name, data in entries:
            target.writestr(name, wrong.getvalue() if "/sample_inputs/" in name else data)
    with pytest.raises(LoadError, match="failed a trial run on the example inputs saved with it"):
        loaded(tmp_path)


def test_a_damaged_zip64_locator_is_a_load_error(
    two_heads: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    data = bytearray((two_heads[0] / "model.pt2").read_bytes())
    locator = data.rfind(b"PK\x06\x07")  # torch writes zip64 end records
    assert locator > 0
    data[locator + 4] ^= 1  # "the central directory is on disk 1": zipfile raises instead of answering
    (tmp_path / "model.pt2").write_bytes(bytes(data))
    with pytest.raises(LoadError, match="corrupt or truncated"):
        loaded(tmp_path)

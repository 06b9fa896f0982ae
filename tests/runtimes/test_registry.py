"""Runtime detection and the message when a runtime's extra is not installed (runtimes/__init__.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from moorings.errors import LoadError
from moorings.runtimes import detect, runtime_class


@pytest.mark.parametrize(
    ("file", "runtime"), [("model.tflite", "tflite"), ("model.pt2", "torch"), ("model.onnx", "onnx")]
)
def test_detected_from_the_model_file(tmp_path: Path, file: str, runtime: str) -> None:
    (tmp_path / file).write_bytes(b"")
    assert detect(tmp_path) == runtime


def test_two_model_files_need_model_toml_to_choose(tmp_path: Path) -> None:
    (tmp_path / "model.tflite").write_bytes(b"")
    (tmp_path / "model.pt2").write_bytes(b"")
    with pytest.raises(LoadError, match=r'name = "tflite" or "torch"'):
        detect(tmp_path)


@pytest.mark.parametrize(
    ("runtime", "package", "module"),
    [
        ("tflite", "ai_edge_litert", "moorings.runtimes.tflite"),
        ("torch", "torch", "moorings.runtimes.torch_export"),
    ],
)
def test_a_missing_extra_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, runtime: str, package: str, module: str
) -> None:
    for name in [package, *(m for m in sys.modules if m.startswith(f"{package}."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: importing it fails
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(LoadError, match=rf"needs a package that is not installed \({package}[.\w]*\); "
                       rf"install moorings\[{runtime}\]"):  # fmt: skip
        runtime_class(runtime)

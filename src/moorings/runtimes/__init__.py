"""Runtimes, one file each, imported only when a model needs them.

The runtime of a version folder is detected from the files it holds, in this
order; ``runtime.name`` in model.toml overrides the detection. A folder with a
``model.py`` is a Python model whatever else it holds (the other files are its
assets, e.g. the ONNX file its code runs).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from moorings.errors import LoadError
from moorings.runtimes.base import Runtime

# (file that marks the runtime, runtime name)
DETECTION: tuple[tuple[str, str], ...] = (
    ("saved_model.pb", "tensorflow"),
    ("model.keras", "keras"),
    ("model.onnx", "onnx"),
    ("model.skops", "sklearn"),
    ("model.joblib", "sklearn"),
    ("model.pkl", "sklearn"),
    ("model.tflite", "tflite"),
    ("model.pt2", "torch"),
)

# runtime name -> (module, class)
REGISTRY: dict[str, tuple[str, str]] = {
    "tensorflow": ("moorings.runtimes.tensorflow", "TensorFlowRuntime"),
    "keras": ("moorings.runtimes.keras", "KerasRuntime"),
    "onnx": ("moorings.runtimes.onnx", "OnnxRuntime"),
    "sklearn": ("moorings.runtimes.sklearn", "SklearnRuntime"),
    "python": ("moorings.runtimes.python_model", "PythonModelRuntime"),
    "tflite": ("moorings.runtimes.tflite", "TfliteRuntime"),
    "torch": ("moorings.runtimes.torch_export", "TorchExportRuntime"),
}

#: the file of a Python model (``runtimes/python_model.py``)
PYTHON_MODEL_FILE = "model.py"

# runtime name -> the pip extra that installs what it needs
EXTRAS: dict[str, str] = {
    "keras": "tensorflow",
    "tensorflow": "tensorflow",
    "sklearn": "sklearn",
    "tflite": "tflite",
    "torch": "torch",
}


def detect(path: Path) -> str:
    """The runtime name for a version folder, from the files it holds.

    A folder holding the files of more than one runtime is refused: which one
    to serve is said in model.toml (``[runtime] name``), never guessed.
    """
    if (path / PYTHON_MODEL_FILE).is_file():
        return "python"
    found: dict[str, list[str]] = {}
    for marker, name in DETECTION:
        if (path / marker).is_file():
            found.setdefault(name, []).append(marker)
    if len(found) == 1:
        return next(iter(found))
    if found:
        files = ", ".join(m for markers in found.values() for m in markers)
        choices = " or ".join(f'"{name}"' for name in found)
        raise LoadError(
            f"the version folder holds model files for more than one runtime ({files}); "
            f"say which to serve in model.toml: [runtime] name = {choices}"
        )
    markers = ", ".join([*(m for m, _ in DETECTION), PYTHON_MODEL_FILE])
    raise LoadError(
        f"the version folder holds no model file Moorings recognises (expected one of: {markers})"
    )


def runtime_class(name: str) -> type[Runtime]:
    if name not in REGISTRY:
        raise LoadError(f"unknown runtime {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module_name, class_name = REGISTRY[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LoadError(
            f"the {name} runtime needs a package that is not installed ({exc.name}); "
            f"install moorings[{EXTRAS.get(name, name)}]"
        ) from None
    cls: type[Runtime] = getattr(module, class_name)
    return cls


__all__ = ["DETECTION", "REGISTRY", "Runtime", "detect", "runtime_class"]

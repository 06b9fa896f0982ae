"""Keras 3 models saved as ``model.keras``, loaded in safe mode (no lambda deserialization).

Input and output names are a function of the file alone, the same on every
load: the keys of a model's dict inputs/outputs, else the names of the layers
that make them when the model's author named those layers, else ``input_0…``
and ``output_0…`` by position. Names Keras makes up (``dense_3``,
``keras_tensor_8``) come from a counter of the process that built or loaded the
model, so they are never used.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from moorings import dtypes
from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError, first_line
from moorings.runtimes.base import Runtime
from moorings.runtimes.tensorflow import configure_threads, import_tensorflow, tf_error_text
from moorings.types import DEFAULT_SIGNATURE, Signature, Tensors, TensorSpec

MODEL_FILE = "model.keras"


def _spec(name: str, tensor: Any) -> TensorSpec:
    try:
        dtype = dtypes.by_name(str(tensor.dtype))
    except KeyError:
        raise LoadError(f"tensor {name!r} has dtype {tensor.dtype}, which Moorings does not serve") from None
    shape = tuple(-1 if d is None else int(d) for d in tensor.shape)
    return TensorSpec(name=name, dtype=dtype, shape=shape, tensor_name=name)


def check_archive(file: Path) -> None:
    """Raise LoadError unless ``file`` is a readable zip archive holding a Keras model's config."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise LoadError(
            "model.keras is corrupt or truncated: it is not a readable zip archive (a .keras file is one)"
        ) from None
    except OSError as exc:
        raise LoadError(f"model.keras cannot be read: {exc.strerror or type(exc).__name__}") from None
    if "config.json" not in names:
        raise LoadError("model.keras is a zip archive but not a Keras model (it holds no config.json)")


def _made_up(layer_name: str, layer: Any) -> bool:
    """True when ``layer_name`` is the kind of name Keras gives a layer nobody named (``dense_3``)."""
    kind = type(layer).__name__
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=.)(?=[A-Z][a-z])", "_", kind).lower()
    return re.fullmatch(rf"{re.escape(snake)}(_\d+)?", layer_name) is not None


def stable_names(tensors: list[Any], structure: Any, prefix: str) -> list[str]:
    """Names for ``tensors`` (a model's flat inputs or outputs) that depend on the model file only."""
    if isinstance(structure, dict):
        by_tensor = {id(t): str(key) for key, t in structure.items()}
        if all(id(t) in by_tensor for t in tensors):
            return [by_tensor[id(t)] for t in tensors]
    names = []
    for tensor in tensors:
        history = getattr(tensor, "_keras_history", None)
        layer = history[0] if history else None
        name = getattr(layer, "name", None)
        names.append(name if isinstance(name, str) and name and not _made_up(name, layer) else None)
    declared = [n for n in names if n is not None]
    if len(set(declared)) != len(declared):  # one layer making several tensors: use positions
        names = [None] * len(tensors)
    taken = {n for n in names if n is not None}
    result = []
    for i, name in enumerate(names):
        if name is None:
            name = f"{prefix}_{i}"
            while name in taken:
                name = f"_{name}"
        taken.add(name)
        result.append(name)
    return result


class KerasRuntime(Runtime):
    kind = "keras"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._model: Any = None
        self._signature: Signature | None = None
        self._input_names: list[str] = []
        self._dict_inputs = False

    def load(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        # one thread at a time: concurrent first imports of TensorFlow can deadlock
        configure_threads(import_tensorflow(), self.options.intra_op_threads, self.path)
        import keras

        file = self.path / MODEL_FILE
        check_archive(file)
        try:
            model = keras.saving.load_model(file, compile=False, safe_mode=True)
        except zipfile.BadZipFile:
            raise LoadError("model.keras is corrupt: a part of its zip archive cannot be read") from None
        except Exception as exc:
            raise LoadError(f"model.keras could not be loaded: {first_line(exc)}") from None
        if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
            raise LoadError("model.keras must be a functional or sequential model with known inputs")
        input_names = stable_names(list(model.inputs), getattr(model, "_inputs_struct", None), "input")
        output_names = stable_names(list(model.outputs), getattr(model, "_outputs_struct", None), "output")
        inputs = {n: _spec(n, t) for n, t in zip(input_names, model.inputs, strict=True)}
        outputs = {n: _spec(n, t) for n, t in zip(output_names, model.outputs, strict=True)}
        self._model = model
        self._input_names = input_names
        self._dict_inputs = isinstance(getattr(model, "_inputs_struct", None), dict)
        self._signature = Signature(DEFAULT_SIGNATURE, inputs, outputs)

    @property
    def signatures(self) -> dict[str, Signature]:
        assert self._signature is not None, "load() first"
        return {DEFAULT_SIGNATURE: self._signature}

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        feeds: Any = [inputs[n] for n in self._input_names]
        if self._dict_inputs:
            feeds = dict(zip(self._input_names, feeds, strict=True))
        elif len(feeds) == 1:
            feeds = feeds[0]
        try:
            result = self._model.predict_on_batch(feeds)
        except import_tensorflow().errors.InvalidArgumentError as exc:
            raise InvalidArgument(f"the model rejected the input: {tf_error_text(exc)}") from None
        outputs = list(self._signature.outputs) if self._signature is not None else []
        if isinstance(result, dict) and all(n in result for n in outputs):
            served = {n: result[n] for n in outputs}
        else:
            flat = list(result) if isinstance(result, list | tuple) else [result]
            served = dict(zip(outputs, flat, strict=True))
        return {n: np.asarray(served[n]) for n in signature.outputs}

    def unload(self) -> None:
        self._model = None

"""Keras 3 models saved as ``model.keras``, loaded in safe mode (no lambda deserialization)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from moorings import dtypes
from moorings.config import RuntimeOptions
from moorings.errors import LoadError, first_line
from moorings.runtimes.base import Runtime
from moorings.types import DEFAULT_SIGNATURE, Signature, Tensors, TensorSpec

MODEL_FILE = "model.keras"


def _spec(name: str, tensor: Any) -> TensorSpec:
    try:
        dtype = dtypes.by_name(str(tensor.dtype))
    except KeyError:
        raise LoadError(f"tensor {name!r} has dtype {tensor.dtype}, which Moorings does not serve") from None
    shape = tuple(-1 if d is None else int(d) for d in tensor.shape)
    return TensorSpec(name=name, dtype=dtype, shape=shape, tensor_name=name)


class KerasRuntime(Runtime):
    kind = "keras"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._model: Any = None
        self._signature: Signature | None = None
        self._input_names: list[str] = []

    def load(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        from moorings.runtimes.tensorflow import configure_threads, import_tensorflow

        # one thread at a time: concurrent first imports of TensorFlow can deadlock
        configure_threads(import_tensorflow(), self.options.intra_op_threads, self.path)
        import keras

        try:
            model = keras.saving.load_model(self.path / MODEL_FILE, compile=False, safe_mode=True)
        except Exception as exc:
            raise LoadError(f"model.keras could not be loaded: {first_line(exc)}") from None
        if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
            raise LoadError("model.keras must be a functional or sequential model with known inputs")
        input_names = [t.name for t in model.inputs]
        output_names = list(getattr(model, "output_names", None) or [t.name for t in model.outputs])
        inputs = {n: _spec(n, t) for n, t in zip(input_names, model.inputs, strict=True)}
        outputs = {n: _spec(n, t) for n, t in zip(output_names, model.outputs, strict=True)}
        self._model = model
        self._input_names = input_names
        self._signature = Signature(DEFAULT_SIGNATURE, inputs, outputs)

    @property
    def signatures(self) -> dict[str, Signature]:
        assert self._signature is not None, "load() first"
        return {DEFAULT_SIGNATURE: self._signature}

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        feeds = [inputs[n] for n in self._input_names]
        result = self._model.predict_on_batch(feeds[0] if len(feeds) == 1 else feeds)
        names = list(signature.outputs)
        if isinstance(result, dict):
            return {n: np.asarray(result[n]) for n in names}
        if isinstance(result, list | tuple):
            return {n: np.asarray(r) for n, r in zip(names, result, strict=True)}
        return {names[0]: np.asarray(result)}

    def unload(self) -> None:
        self._model = None

"""ONNX models through ONNX Runtime (``model.onnx``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moorings import dtypes
from moorings.config import RuntimeOptions, available_cores
from moorings.errors import InvalidArgument, LoadError, first_line
from moorings.runtimes.base import Runtime
from moorings.runtimes.onnx_external import check_external_data
from moorings.types import DEFAULT_SIGNATURE, Signature, Tensors, TensorSpec

MODEL_FILE = "model.onnx"


def _spec(arg: object) -> TensorSpec | None:
    type_string = getattr(arg, "type", "")
    try:
        dtype = dtypes.from_onnx(type_string)
    except KeyError:
        return None  # sequences and maps (e.g. ZipMap) are not tensors
    raw_shape = getattr(arg, "shape", None)
    shape = None if raw_shape is None else tuple(d if isinstance(d, int) else -1 for d in raw_shape)
    name = str(getattr(arg, "name", ""))
    return TensorSpec(name=name, dtype=dtype, shape=shape, tensor_name=name)


class OnnxRuntime(Runtime):
    kind = "onnx"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._session: object | None = None
        self._signature: Signature | None = None
        self._output_names: list[str] = []

    def load(self) -> None:
        import onnxruntime as ort

        file = self.path / MODEL_FILE
        check_external_data(file)  # before ONNX Runtime reads any of it
        so = ort.SessionOptions()
        threads = self.options.intra_op_threads
        so.intra_op_num_threads = threads if threads else available_cores()
        so.inter_op_num_threads = 1
        # idle intra-op threads sleep instead of spinning: several batch threads share the cores
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(file), sess_options=so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several private exception types
            raise LoadError(f"model.onnx could not be loaded by ONNX Runtime: {_first_line(exc)}") from None
        inputs = {}
        for arg in session.get_inputs():
            spec = _spec(arg)
            if spec is None:
                raise LoadError(f"input {arg.name!r} has type {arg.type}, which is not a tensor")
            inputs[spec.name] = spec
        outputs = {spec.name: spec for spec in map(_spec, session.get_outputs()) if spec is not None}
        if not outputs:
            raise LoadError("the ONNX model has no tensor outputs")
        self._session = session
        self._output_names = list(outputs)
        self._signature = Signature(DEFAULT_SIGNATURE, inputs, outputs)

    @property
    def signatures(self) -> dict[str, Signature]:
        assert self._signature is not None, "load() first"
        return {DEFAULT_SIGNATURE: self._signature}

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        session = self._session
        assert session is not None, "load() first"
        feeds = {
            name: (value.astype(np.str_) if value.dtype == object else value)
            for name, value in inputs.items()
        }
        try:
            results = session.run(self._output_names, feeds)  # type: ignore[attr-defined]
        except Exception as exc:
            if type(exc).__name__ in ("InvalidArgument", "InvalidGraph"):
                raise InvalidArgument(f"the model rejected the input: {_first_line(exc)}") from None
            raise
        return {name: _as_output(value) for name, value in zip(self._output_names, results, strict=True)}

    def unload(self) -> None:
        self._session = None


def _as_output(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind == "U" or value.dtype == object:
        encode = np.vectorize(lambda s: s if isinstance(s, bytes) else str(s).encode(), otypes=[object])
        encoded: np.ndarray = encode(value)
        return encoded
    return value


def _first_line(exc: BaseException) -> str:
    """The first line without the ``[ONNXRuntimeError] :`` tag ONNX Runtime puts in front."""
    return first_line(exc, limit=None).split(" : ", 1)[-1][:300]

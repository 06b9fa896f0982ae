"""Python models: a version folder's ``model.py``, whose class the user writes.

The contract (docs in the README, "Python models")::

    class Model:
        inputs = {"x": {"dtype": "float32", "shape": [-1, 4]}}     # or [inputs.x] in model.toml
        outputs = {"y": {"dtype": "float32", "shape": [-1, 3]}}

        def setup(self, version_dir):    # optional: once per loaded version
            ...
        def predict(self, batch):        # a batch: {name: array with one row per request row}
            return {"y": ...}            # one row per input row
        def preprocess(self, inputs):    # optional: one request's tensors, before batching
            return inputs
        def postprocess(self, outputs):  # optional: one request's outputs, after batching
            return outputs
        def stream(self, inputs):        # optional: one request; yields partial results
            yield {"y": ...}

The class is the one class defined in model.py with a ``predict`` or ``stream``
method (see :func:`~moorings.runtimes.python_import.model_class`). Running it is
running the user's code with the server's rights: the runtime refuses to load
unless the server runs with ``--allow-python-models``.

Whatever the user's code raises in ``predict``, ``preprocess``, ``postprocess``
or ``stream`` becomes that request's 500 with the exception's type and first
line (the traceback goes to the server log); a :class:`~moorings.errors.MooringsError`
it raises (e.g. ``InvalidArgument``) keeps its own status. What ``setup`` or the
import raises fails the version's load, shown in the model's status.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from moorings.config import RuntimeOptions
from moorings.errors import LoadError, MooringsError, Unimplemented, first_line, hide_paths
from moorings.runtimes.base import Runtime
from moorings.runtimes.python_import import forget, import_file, model_class
from moorings.runtimes.python_signature import declared_signature
from moorings.types import DEFAULT_SIGNATURE, Signature, Tensors

log = logging.getLogger(__name__)

MODEL_FILE = "model.py"
FLAG = "--allow-python-models"


def user_error(step: str, exc: BaseException) -> MooringsError:
    """What a client is told when the user's ``step`` raised ``exc``: its type and first line."""
    if isinstance(exc, MooringsError):
        return exc
    log.warning("model.py %s raised %s", step, type(exc).__name__, exc_info=exc)
    return MooringsError(f"model.py {step} raised {type(exc).__name__}: {hide_paths(first_line(exc))}")


def call_user(step: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except BaseException as exc:
        raise user_error(step, exc) from None


class PythonModelRuntime(Runtime):
    kind = "python"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._module: types.ModuleType | None = None
        self._signature: Signature | None = None
        self._predict: Callable[[Tensors], Any] | None = None
        self._stream: Callable[[Tensors], Iterable[Any]] | None = None
        self._has_postprocess = False

    def load(self) -> None:
        if not self.options.allow_python_models:
            raise LoadError(
                f"this version is a Python model (model.py); user code runs with the server's rights, so it "
                f"is loaded only when the server runs with {FLAG}"
            )
        module = import_file(self.path / MODEL_FILE)
        try:
            cls = model_class(module)
            self._signature = declared_signature(self.options.inputs, self.options.outputs, cls)
            model = _load_step("creating the model", cls)
            setup = getattr(model, "setup", None)
            if callable(setup):
                _load_step("setup", setup, self.path)
        except BaseException:
            forget(module)
            raise
        self._module = module
        self._predict = _method(model, "predict")
        self._stream = _method(model, "stream")
        self.streams = self._stream is not None
        pre, post = _method(model, "preprocess"), _method(model, "postprocess")
        if pre is not None:
            self.preprocess = lambda inputs: _tensors(call_user("preprocess", pre, inputs), "preprocess")
        if post is not None:
            self._has_postprocess = True
            self.postprocess = lambda outputs: self.checked_outputs(
                call_user("postprocess", post, outputs), "postprocess"
            )

    @property
    def signatures(self) -> dict[str, Signature]:
        assert self._signature is not None, "load() first"
        return {DEFAULT_SIGNATURE: self._signature}

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        if self._predict is None:
            raise Unimplemented(
                "this Python model only streams: call /v2/models/{name}/generate_stream or gRPC "
                "ModelStreamInfer"
            )
        outputs = call_user("predict", self._predict, inputs)
        if self._has_postprocess:  # postprocess's answer is the one checked against the signature
            return _tensors(outputs, "predict")
        return self.checked_outputs(outputs, "predict")

    def stream(self, signature: Signature, inputs: Tensors) -> Iterator[Tensors]:
        assert self._stream is not None, "streams is False: call predict"
        iterable = call_user("stream", self._stream, inputs)
        return _Partials(call_user("stream", iter, iterable), self)

    def unload(self) -> None:
        if self._module is not None:
            forget(self._module)
        self._module = self._predict = self._stream = None
        self.preprocess = self.postprocess = None

    def checked_outputs(self, value: Any, step: str, partial: bool = False) -> Tensors:
        """``value`` as the signature's outputs: each declared one (``partial``: some), in its dtype."""
        assert self._signature is not None
        specs = self._signature.outputs
        tensors = _tensors(value, step)
        unknown = [name for name in tensors if name not in specs]
        if unknown:
            raise MooringsError(
                f"model.py {step} returned output(s) {', '.join(map(repr, unknown))} that the signature "
                f"does not declare ({', '.join(specs)})"
            )
        if not partial:
            missing = [name for name in specs if name not in tensors]
            if missing:
                raise MooringsError(f"model.py {step} returned no output {', '.join(map(repr, missing))}")
        return {
            name: _as_dtype(array, specs[name].dtype.numpy, name, step) for name, array in tensors.items()
        }


class _Partials:
    """The user's stream, each partial result checked; ``close()`` closes the user's generator."""

    def __init__(self, iterator: Iterator[Any], runtime: PythonModelRuntime) -> None:
        self._iterator = iterator
        self._runtime = runtime

    def __iter__(self) -> Iterator[Tensors]:
        return self

    def __next__(self) -> Tensors:
        try:
            value = next(self._iterator)
        except StopIteration:
            raise
        except BaseException as exc:
            raise user_error("stream", exc) from None
        return self._runtime.checked_outputs(value, "stream", partial=True)

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if callable(close):
            try:
                close()
            except BaseException as exc:
                log.warning("closing a model.py stream raised %s", type(exc).__name__, exc_info=exc)


def _method(model: object, name: str) -> Callable[..., Any] | None:
    method = getattr(model, name, None)
    return method if callable(method) else None


def _load_step(step: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except BaseException as exc:
        log.warning("model.py %s raised %s", step, type(exc).__name__, exc_info=exc)
        raise LoadError(
            f"model.py {step} raised {type(exc).__name__}: {hide_paths(first_line(exc))}"
        ) from None


def _tensors(value: Any, step: str) -> Tensors:
    """A dict of arrays from what the user's ``step`` returned."""
    if not isinstance(value, dict) or not value:
        raise MooringsError(
            f"model.py {step} must return a dict of output name -> array, got {type(value).__name__}"
        )
    tensors = {}
    for name, item in value.items():
        if not isinstance(name, str):
            raise MooringsError(f"model.py {step} returned an output named {name!r}, not a string")
        try:
            tensors[name] = item if type(item) is np.ndarray else np.asarray(item)
        except Exception as exc:
            raise MooringsError(
                f"model.py {step}: output {name!r} is not an array ({first_line(exc)})"
            ) from None
    return tensors


def _as_dtype(array: np.ndarray, dtype: np.dtype[Any], name: str, step: str) -> np.ndarray:
    if array.dtype == dtype:
        return array
    if dtype.kind == "O":  # strings travel as bytes
        if array.dtype.kind not in "OSU":
            raise MooringsError(f"model.py {step}: output {name!r} holds {array.dtype}, not strings")
        encode = np.vectorize(lambda s: s if isinstance(s, bytes) else str(s).encode(), otypes=[object])
        encoded: np.ndarray = encode(array) if array.size else array.astype(object)
        return encoded
    if not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise MooringsError(
            f"model.py {step}: output {name!r} is {array.dtype}, which does not cast to the declared {dtype}"
        )
    return array.astype(dtype)

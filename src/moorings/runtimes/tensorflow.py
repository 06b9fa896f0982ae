"""TensorFlow SavedModels (``saved_model.pb``), served through their signatures.

The signatures, with their tensor names and method names, are read from the
SavedModel's own ``signature_def`` map, as TensorFlow Serving does. Signatures
whose method is classify or regress take serialized ``tf.Example`` protos; the
runtime builds them from the JSON examples of ``:classify`` and ``:regress``.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from moorings import dtypes
from moorings.config import RuntimeOptions, available_cores
from moorings.errors import FailedPrecondition, InvalidArgument, LoadError, first_line, hide_paths
from moorings.runtimes import native_stderr
from moorings.runtimes.base import Runtime
from moorings.runtimes.tensorflow_session import SessionModel
from moorings.runtimes.tf_ops import check_ops
from moorings.types import (
    CLASSIFY_METHOD,
    PREDICT_METHOD,
    REGRESS_METHOD,
    ClassifyResult,
    Example,
    Signature,
    Tensors,
    TensorSpec,
)

MODEL_FILE = "saved_model.pb"

log = logging.getLogger(__name__)

_IMPORT_LOCK = threading.Lock()
#: the intra-op threads TensorFlow was given in this process (None: not set yet)
_intra_op_threads: int | None = None


def import_tensorflow() -> Any:
    """Import TensorFlow, one thread at a time.

    Two threads importing TensorFlow's submodules at once (two models loading) can
    fail with Python's ``_DeadlockError``; every first import of TensorFlow goes
    through here.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _IMPORT_LOCK:
        if "tensorflow" in sys.modules:
            import tensorflow as tf

            return tf
        with native_stderr.filtered():
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe, here, before thread pools are fixed
    return tf


def configure_threads(tf: Any, wanted: int | None, model: Path) -> int:
    """Give TensorFlow ``wanted`` intra-op threads (by default the cores this process may use).

    TensorFlow's thread pools belong to the whole process and are fixed once it runs its first
    operation, so the first TensorFlow or Keras model to load sets them; a later one that asks
    for another number gets what is set, and the log says so.
    """
    global _intra_op_threads
    threads = wanted or available_cores()
    with _IMPORT_LOCK:
        if _intra_op_threads is None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
            except RuntimeError:  # TensorFlow already ran operations in this process, outside Moorings
                threads = tf.config.threading.get_intra_op_parallelism_threads() or available_cores()
            _intra_op_threads = threads
        current = _intra_op_threads
    if wanted and wanted != current:
        log.warning(
            "%s asks for %d intra-op threads, but TensorFlow's threads are set once per process: "
            "it runs with %d",
            model.parent.name,
            wanted,
            current,
        )
    return current


#: the parts of a TensorFlow error message that are not its cause
_TF_NOISE = (
    re.compile(r"^Graph execution error:?$"),
    re.compile(r"^Detected at node .* defined at \(most recent call last\):?$"),
    re.compile(r"^<stack traces unavailable>$"),
    re.compile(r"^File \".*\", line \d+"),
    re.compile(r"^Node: '.*'$"),
    re.compile(r"^\d+ root error\(s\) found\.?$"),
    re.compile(r"^\d+ successful operations\.?$"),
    re.compile(r"^\d+ derived errors ignored\.?$"),
)


def tf_error_text(exc: BaseException, limit: int = 300) -> str:
    """The sentence of a TensorFlow error that names its cause, without traceback, node tags or paths.

    TensorFlow wraps an op's message (e.g. "Unknown image file format…") in a
    "Graph execution error:" header, a Python traceback of where the op was
    defined and ``[[{{node …}}]]`` / ``[Op:…]`` tags.
    """
    text = str(getattr(exc, "message", None) or exc)
    lines = text.splitlines()
    tag = next((i for i, raw in enumerate(lines) if raw.strip().startswith("[[")), None)
    if tag is not None:  # the op's message is the line just above its first node tag
        candidates = [_clean_tf_line(raw) for raw in reversed(lines[:tag])]
    else:  # else the first line that is neither a header nor an (indented) traceback line
        candidates = [_clean_tf_line(raw) for raw in lines if raw[:1] not in (" ", "\t")]
    cause = next((c for c in candidates if c), "")
    return hide_paths(cause or type(exc).__name__)[:limit]


def _clean_tf_line(raw: str) -> str:
    line = raw.strip()
    if not line or any(p.match(line) for p in _TF_NOISE):
        return ""
    line = re.sub(r"^\(\d+\)\s+[A-Z_]+:\s*", "", line)  # "(0) INVALID_ARGUMENT:  …"
    line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
    line = re.sub(r"\s*\[\[\{\{node [^}]*\}\}\]\].*$", "", line)
    line = re.sub(r"\s*\[Op:[^\]]*\](\s*name:.*)?$", "", line)
    return line.strip()


def read_serve_graph(path: Path) -> Any:
    """The ``serve`` meta graph of ``saved_model.pb`` (a MetaGraphDef)."""
    import_tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / MODEL_FILE).read_bytes())
    except Exception as exc:
        raise LoadError(f"saved_model.pb could not be parsed: {exc}") from None
    graphs = [g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags]
    if not graphs:
        raise LoadError("the SavedModel has no meta graph tagged 'serve'")
    return graphs[0]


def read_signature_defs(graph: Any) -> dict[str, Signature]:
    """The signatures of a ``serve`` meta graph (see :func:`read_serve_graph`)."""
    signatures = {}
    for key, sig in graph.signature_def.items():
        if key.startswith("__"):
            continue
        signatures[key] = Signature(
            name=key,
            inputs={k: _spec(k, v) for k, v in sig.inputs.items()},
            outputs={k: _spec(k, v) for k, v in sig.outputs.items()},
            method_name=sig.method_name,
        )
    if not signatures:
        raise LoadError("the SavedModel has no serving signatures")
    return signatures


def _spec(key: str, info: Any) -> TensorSpec:
    try:
        dtype = dtypes.from_tf_enum(info.dtype)
    except KeyError:
        raise LoadError(f"tensor {key!r} has a dtype Moorings does not serve ({info.dtype})") from None
    shape = None
    if not info.tensor_shape.unknown_rank:
        shape = tuple(int(d.size) for d in info.tensor_shape.dim)
    return TensorSpec(name=key, dtype=dtype, shape=shape, tensor_name=info.name)


class TensorFlowRuntime(Runtime):
    kind = "tensorflow"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._tf: Any = None
        self._loaded: Any = None
        self._functions: dict[str, Any] = {}
        self._signatures: dict[str, Signature] = {}
        #: set when the SavedModel runs as a TF1 graph in a session (see tensorflow_session.py)
        self._session: SessionModel | None = None

    def load(self) -> None:
        graph = read_serve_graph(self.path)
        check_ops(graph, self.options.allowed_ops)  # before TensorFlow runs anything of the graph
        signatures = read_signature_defs(graph)
        tf = import_tensorflow()
        threads = configure_threads(tf, self.options.intra_op_threads, self.path)
        self._tf = tf
        try:
            loaded = tf.saved_model.load(str(self.path), tags=["serve"])
        except Exception as exc:
            self._load_session(tf, threads, signatures, exc)
            return
        self._loaded = loaded
        self._functions = {k: loaded.signatures[k] for k in signatures if k in loaded.signatures}
        self._signatures = {k: v for k, v in signatures.items() if k in self._functions}

    def _load_session(
        self, tf: Any, threads: int, signatures: dict[str, Signature], v2_error: Exception
    ) -> None:
        """TF1's loader, for a graph ``tf.saved_model.load`` could not restore (as TF Serving runs it)."""
        try:
            self._session = SessionModel(tf, self.path, threads)
        except Exception:
            raise LoadError(f"the SavedModel could not be loaded: {first_line(v2_error)}") from None
        self._signatures = signatures
        log.info(
            "%s runs as a TensorFlow 1 graph in a session (tf.saved_model.load: %s)",
            self.path.parent.name,
            first_line(v2_error),
        )

    @property
    def signatures(self) -> dict[str, Signature]:
        return self._signatures

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        tf = self._tf
        try:
            if self._session is not None:
                return self._session.run(signature, inputs)
            function = self._functions[signature.name]
            feeds = {
                name: tf.constant(value, dtype=tf.as_dtype(signature.inputs[name].dtype.tf_enum))
                for name, value in inputs.items()
            }
            results = function(**feeds)
        except UnicodeDecodeError:  # TF's message quoted the bytes of a string input it could not parse
            raise InvalidArgument(_unparsed_bytes_message(signature)) from None
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"the model rejected the input: {_input_error_text(tf, exc)}") from None
        return {name: results[name].numpy() for name in signature.outputs if name in results}

    def _serialized_examples(self, examples: list[Example]) -> np.ndarray:
        tf = self._tf
        serialized = []
        for i, example in enumerate(examples):
            features = {}
            for key, value in example.items():
                features[key] = _feature(tf, key, value, i)
            proto = tf.train.Example(features=tf.train.Features(feature=features))
            serialized.append(proto.SerializeToString())
        return np.array(serialized, dtype=object)

    def _example_signature(self, signature: Signature, method: str) -> str:
        """The input that takes serialized tf.Examples. Like TF Serving (whose method-name check is off
        by default), predict-method signatures serve too: TF2 writes every signature as predict."""
        if signature.method_name not in (method, PREDICT_METHOD):
            raise FailedPrecondition(
                f"signature {signature.name!r} has method {signature.method_name!r}, not {method!r}"
            )
        specs = list(signature.inputs.values())
        if len(specs) != 1 or not specs[0].dtype.is_string:
            raise FailedPrecondition(
                f"signature {signature.name!r} must take one string input of serialized tf.Examples"
            )
        return next(iter(signature.inputs))

    def classify(self, signature: Signature, examples: list[Example]) -> ClassifyResult:
        key = self._example_signature(signature, CLASSIFY_METHOD)
        out = self.predict(signature, {key: self._serialized_examples(examples)})
        scores = out.get("scores")
        classes = out.get("classes")
        n = len(examples)
        if classes is None and scores is None:
            raise FailedPrecondition("the classify signature has neither 'classes' nor 'scores'")
        if scores is not None and scores.ndim == 1:
            scores = scores.reshape(n, -1)
        if classes is None:
            assert scores is not None
            labels = [[""] * scores.shape[1] for _ in range(n)]  # as TF Serving: no classes, no names
        else:
            labels = [[c.decode() if isinstance(c, bytes) else str(c) for c in row] for row in classes]
        score_rows = scores.tolist() if scores is not None else [[0.0] * len(row) for row in labels]
        return ClassifyResult(labels=labels, scores=score_rows, named=classes is not None)

    def regress(self, signature: Signature, examples: list[Example]) -> list[float]:
        key = self._example_signature(signature, REGRESS_METHOD)
        out = self.predict(signature, {key: self._serialized_examples(examples)})
        if "outputs" not in out:
            raise FailedPrecondition("the regress signature has no 'outputs' tensor")
        return [float(v) for v in np.asarray(out["outputs"]).reshape(len(examples), -1)[:, 0]]

    def unload(self) -> None:
        self._functions = {}
        self._loaded = None
        if self._session is not None:
            self._session.close()
            self._session = None


def _unparsed_bytes_message(signature: Signature) -> str:
    """What to tell a client whose string input the graph could not parse (e.g. an image sent to a
    signature that parses serialized tf.Example protos)."""
    names = ", ".join(repr(n) for n, s in signature.inputs.items() if s.dtype.is_string) or "its inputs"
    message = (
        f"the model could not parse string input {names} of signature {signature.name!r}: "
        'check that it holds the kind of data the signature expects; binary data is sent as {"b64": ...}'
    )
    verb = {CLASSIFY_METHOD: ":classify", REGRESS_METHOD: ":regress"}.get(signature.method_name)
    if verb is not None:
        message += f"; this signature takes serialized tf.Example protos: use {verb} with 'examples'"
    return message


def _input_error_text(tf: Any, exc: BaseException) -> str:
    if isinstance(exc, tf.errors.OpError):
        return tf_error_text(exc)
    return hide_paths(first_line(exc))


def _feature(tf: Any, key: str, value: Any, index: int) -> Any:
    values = value if isinstance(value, list) else [value]
    if all(isinstance(v, bool) for v in values) or all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))
    items = []
    for v in values:
        if isinstance(v, str):
            items.append(v.encode())
        elif isinstance(v, dict) and set(v) == {"b64"} and isinstance(v["b64"], str):
            try:
                items.append(base64.b64decode(v["b64"], validate=True))
            except ValueError:
                raise InvalidArgument(f"example {index}, feature {key!r}: invalid base64") from None
        else:
            raise InvalidArgument(
                f"example {index}, feature {key!r}: values must all be numbers or all be strings"
            )
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=items))

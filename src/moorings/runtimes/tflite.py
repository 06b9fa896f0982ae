"""TFLite models (``model.tflite``) through LiteRT (``ai-edge-litert``), without TensorFlow.

Signatures are the file's signature defs, run with LiteRT's signature runner.
A dimension the converter left free (``shape_signature`` -1) is served as -1.

Batch: a signature whose inputs and outputs all have a free leading dimension is
batched as it is (the runner resizes its input tensors to each call's rows). A
signature whose inputs and outputs all have a fixed leading dimension of 1 (a
model converted with ``batch_size=1``) is served with a free batch dimension and
run row by row: resizing such a model to more rows is not safe, because ops
inside it may hold the batch of 1 as a constant (a ``Reshape`` to ``[1, …]``
fails to prepare, or worse, computes something else). Any other fixed leading
dimension is served as declared, unbatched.

Threads: a LiteRT ``Interpreter`` (and its signature runners) must not be used by
two threads at once. Each version keeps a small pool of interpreters over the
same model bytes, made on demand, at most ``cores // intra_op_threads`` of
them; a call borrows one for its whole run. A pool rather than one lock, so
that the batcher's threads run separate batches on separate cores instead of
queueing behind each other; each interpreter runs ``intra_op_threads`` threads
(default 1), so the pool never asks for more threads than there are cores.

The file is read into memory once: LiteRT would otherwise map it, and a file
replaced in place under a running server would then crash the process. Each
signature runs once on zeros at load, so a damaged file fails its load (and an
older version keeps serving) rather than its first requests. Because some damaged
files crash LiteRT outright, that trial load runs first in a separate process
(:func:`try_in_a_child`). LiteRT is not hardened against files made to attack it:
serve ``.tflite`` files from sources you trust.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from moorings import dtypes
from moorings.config import RuntimeOptions, available_cores
from moorings.errors import InvalidArgument, LoadError, first_line
from moorings.runtimes.base import Runtime
from moorings.runtimes.row_range import RowRange, run_rows
from moorings.types import Signature, Tensors, TensorSpec

MODEL_FILE = "model.tflite"
#: the flatbuffer file identifier of a TFLite model, at bytes 4..8
IDENTIFIER = b"TFL3"
#: ``row_range`` of a signature whose batch dimension is free in the model itself
ANY_ROWS = RowRange()
#: ``row_range`` of a signature converted with a fixed batch of one
ONE_ROW = RowRange(1, 1)
#: how long the trial load in a separate process may take
TRIAL_SECONDS = 300.0
#: the trial process's exit status when LiteRT refuses the file (its message on stdout)
TRIAL_REFUSED = 2


@dataclass(frozen=True)
class _Served:
    """One signature def as served: its Moorings signature and how many rows a call may take."""

    signature: Signature
    #: None: not batched (the leading dimension is fixed at more than one, or a rank-0 tensor)
    rows: RowRange | None


class _Instance:
    """One interpreter and its signature runners; used by one thread at a time."""

    def __init__(self, model: bytes, threads: int) -> None:
        self.interpreter = Interpreter(model_content=model, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.runners = {
            key: self.interpreter.get_signature_runner(key) for key in self.interpreter.get_signature_list()
        }


class _Pool:
    """Instances over one model's bytes, made on demand up to ``size``."""

    def __init__(self, model: bytes, threads: int, size: int, first: _Instance) -> None:
        self._model = model
        self._threads = threads
        self._size = size
        self._idle: queue.SimpleQueue[_Instance] = queue.SimpleQueue()
        self._idle.put(first)
        self._made = 1
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[_Instance]:
        try:
            instance = self._idle.get_nowait()
        except queue.Empty:
            instance = self._grow() or self._idle.get()
        try:
            yield instance
        finally:
            self._idle.put(instance)

    def _grow(self) -> _Instance | None:
        """A new instance while the pool is below its size, else None."""
        with self._lock:
            if self._made >= self._size:
                return None
            self._made += 1
        try:
            return _Instance(self._model, self._threads)
        except BaseException:
            with self._lock:
                self._made -= 1
            raise


def _spec(name: str, detail: dict[str, Any]) -> TensorSpec:
    try:
        dtype = dtypes.from_numpy(np.dtype(detail["dtype"]))
    except (KeyError, TypeError):
        raise LoadError(
            f"tensor {name!r} has type {detail['dtype']}, which Moorings does not serve"
        ) from None
    declared = detail.get("shape_signature")
    if declared is None or len(declared) == 0:
        declared = detail["shape"]
    shape = tuple(int(d) for d in declared)
    if any(d < -1 for d in shape):
        raise LoadError(
            f"{MODEL_FILE}: tensor {name!r} declares the shape {list(shape)}; the file is damaged"
        )
    return TensorSpec(name=name, dtype=dtype, shape=shape, tensor_name=str(detail.get("name", name)))


def _serve(name: str, inputs: dict[str, TensorSpec], outputs: dict[str, TensorSpec]) -> _Served:
    """The signature as served, with its batch dimension opened when the model runs row by row."""
    specs = [*inputs.values(), *outputs.values()]
    leading = {s.shape[0] if s.shape else None for s in specs}
    if inputs and leading == {-1}:
        return _Served(Signature(name, inputs, outputs), ANY_ROWS)
    if inputs and leading == {1}:

        def opened(specs: dict[str, TensorSpec]) -> dict[str, TensorSpec]:
            return {
                k: TensorSpec(s.name, s.dtype, (-1, *(s.shape or ())[1:]), s.tensor_name)
                for k, s in specs.items()
            }

        return _Served(Signature(name, opened(inputs), opened(outputs)), ONE_ROW)
    return _Served(Signature(name, inputs, outputs), None)


class TfliteRuntime(Runtime):
    kind = "tflite"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._pool: _Pool | None = None
        self._served: dict[str, _Served] = {}

    def load(self) -> None:
        file = self.path / MODEL_FILE
        try:
            model = file.read_bytes()
        except OSError as exc:
            raise LoadError(f"{MODEL_FILE} cannot be read: {exc.strerror or type(exc).__name__}") from None
        if model[4:8] != IDENTIFIER:
            raise LoadError(f"{MODEL_FILE} is not a TFLite model (it lacks the TFL3 file identifier)")
        try_in_a_child(model)
        threads = self.options.intra_op_threads or 1
        first, served = examine(model, threads)
        self._pool = _Pool(model, threads, max(1, available_cores() // threads), first)
        self._served = served

    @property
    def signatures(self) -> dict[str, Signature]:
        return {name: served.signature for name, served in self._served.items()}

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        pool = self._pool
        assert pool is not None, "load() first"
        served = self._served[signature.name]
        with pool.borrow() as instance:
            runner = instance.runners[signature.name]

            def run(feeds: Tensors) -> Tensors:
                try:
                    result: Tensors = runner(**{k: np.ascontiguousarray(v) for k, v in feeds.items()})
                except ValueError as exc:  # a shape or type LiteRT cannot take
                    raise InvalidArgument(f"the model rejected the input: {first_line(exc)}") from None
                return result

            result = run(inputs) if served.rows is None else run_rows(run, inputs, served.rows)
        return {name: _as_output(result[name]) for name in signature.outputs}

    def unload(self) -> None:
        self._pool = None


def examine(model: bytes, threads: int) -> tuple[_Instance, dict[str, _Served]]:
    """An interpreter over ``model``, its signatures as served, each run once on zeros; LoadError
    when LiteRT refuses the file or a trial run fails."""
    try:
        first = _Instance(model, threads)
        served = {}
        for key, runner in first.runners.items():
            inputs = {n: _spec(n, d) for n, d in runner.get_input_details().items()}
            outputs = {n: _spec(n, d) for n, d in runner.get_output_details().items()}
            served[key] = _serve(key, inputs, outputs)
    except LoadError:
        raise
    except Exception as exc:  # LiteRT raises ValueError and RuntimeError for bad or unsupported models
        raise LoadError(f"{MODEL_FILE} could not be loaded by LiteRT: {first_line(exc)}") from None
    if not served:
        raise LoadError(
            f"{MODEL_FILE} has no signature defs; convert it with TFLiteConverter.from_keras_model "
            "or from_saved_model, which write them"
        )
    for key, entry in served.items():
        _trial_run(first.runners[key], entry)
    return first, served


def try_in_a_child(model: bytes) -> None:
    """Run :func:`examine` on ``model`` in a separate process first (``moorings.runtimes.tflite_trial``).

    LiteRT checks a file's flatbuffer structure, not everything inside it: some damaged files
    crash the process that allocates their tensors. A crash in the child is a LoadError here,
    and the server goes on serving.
    """
    command = [sys.executable, "-m", "moorings.runtimes.tflite_trial"]
    try:
        done = subprocess.run(command, input=model, capture_output=True, timeout=TRIAL_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise LoadError(f"{MODEL_FILE} did not load and run once within {TRIAL_SECONDS:.0f} s") from None
    if done.returncode == 0:
        return
    if done.returncode == TRIAL_REFUSED:
        raise LoadError(done.stdout.decode(errors="replace").strip()[:500])
    if done.returncode < 0:
        try:
            how = signal.Signals(-done.returncode).name
        except ValueError:
            how = f"signal {-done.returncode}"
        raise LoadError(
            f"{MODEL_FILE} crashed LiteRT ({how}) in a trial load in a separate process: it is damaged"
        )
    last = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()][-1:]
    raise LoadError(
        f"{MODEL_FILE}'s trial load failed (exit status {done.returncode}): {''.join(last)[:300]}"
    )


def _trial_run(runner: Any, served: _Served) -> None:
    """Run the signature on zeros (empty strings), with every free dimension 1 and then 2: a file
    damaged in a way the flatbuffer check misses (a tensor's shape, an op's arguments) fails here,
    at load, instead of on requests while an older version could still serve them."""
    specs = served.signature.inputs
    free = any(d < 0 for s in specs.values() for d in (s.shape or ())[1 if served.rows is ONE_ROW else 0 :])
    for size in (1, 2) if free else (1,):
        feeds = {}
        for name, spec in specs.items():
            dims = [d if d >= 0 else size for d in spec.shape or ()]
            if served.rows is ONE_ROW:
                dims[0] = 1
            empty = b"" if spec.dtype.is_string else 0
            feeds[name] = np.full(dims, empty, dtype=spec.dtype.numpy)
        try:
            runner(**feeds)
        except (MemoryError, RuntimeError, ValueError) as exc:
            name = served.signature.name
            raise LoadError(
                f"{MODEL_FILE} failed a trial run on zeros (signature {name!r}): {first_line(exc)}"
            ) from None


def _as_output(value: np.ndarray) -> np.ndarray:
    """String tensors as object arrays of bytes, like every runtime gives them."""
    if value.dtype.kind in "SU":
        return np.array(
            [v if isinstance(v, bytes) else str(v).encode() for v in value.ravel()], object
        ).reshape(value.shape)
    return value

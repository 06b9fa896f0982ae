"""PyTorch programs saved with ``torch.export.save`` (``model.pt2``), run on the CPU.

Security: ``torch.export.load`` unpickles parts of the archive. Its sample
inputs are read with ``torch.load(weights_only=True)`` and, when that fails,
again with ``weights_only=False``; tensor-subclass weights and opaque constants
are plain pickles. A ``.pt2`` file can therefore run arbitrary code when it is
loaded, so this runtime loads one only when the server runs with
``--allow-unsafe-pickle`` (the same opt-in as ``model.joblib`` / ``model.pkl``).

Signature (``serving_default``, the only one): the program's user inputs, named
as its graph signature names them (the ``forward`` argument names), with dtype
and shape from the graph; a symbolic dimension is served as -1. Outputs are
named by their keys when ``forward`` returns a dict, else ``output_0…`` by
position. The inputs are fed back through the program's input tree, so any
nesting of arguments that ``torch.export`` accepted is called the same way.

Batch: when every input and output has a symbolic leading dimension, the
signature is batched; the range ``torch.export`` recorded for that dimension
(``Dim("batch", min=…, max=…)``) is kept by splitting and padding calls (see
:mod:`moorings.runtimes.row_range`).

At load, the program runs once on the example inputs saved in the archive, through
the same path as requests, so a damaged graph fails its load, not its requests.

Threads: the program's module runs under ``torch.inference_mode()`` and is
called by several threads at once (its graph is functional: it reads its
weights and writes nothing), unless the program mutates buffers, when calls
take turns on a lock. ``[runtime] intra_op_threads`` sets torch's intra-op
thread count, which is one setting for the whole process.
"""

from __future__ import annotations

import contextlib
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils import _pytree as pytree

from moorings import dtypes
from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError, first_line
from moorings.runtimes.base import Runtime
from moorings.runtimes.row_range import RowRange, run_rows
from moorings.types import DEFAULT_SIGNATURE, Signature, Tensors, TensorSpec

MODEL_FILE = "model.pt2"


def _dtype(name: str, value: Any) -> dtypes.DType:
    try:
        return dtypes.from_numpy(torch.empty(0, dtype=value.dtype).numpy().dtype)
    except (TypeError, KeyError):
        raise LoadError(f"tensor {name!r} has dtype {value.dtype}, which Moorings does not serve") from None


def _spec(name: str, value: Any) -> TensorSpec:
    """The spec of a graph value (a FakeTensor whose symbolic dimensions are SymInts)."""
    if not isinstance(value, torch.Tensor):
        raise LoadError(f"{name!r} is not a tensor ({type(value).__name__}); Moorings serves tensors only")
    shape = tuple(d if isinstance(d, int) else -1 for d in value.shape)
    return TensorSpec(name=name, dtype=_dtype(name, value), shape=shape, tensor_name=name)


def _output_names(out_spec: Any, count: int) -> list[str]:
    if (
        out_spec.type is dict
        and len(out_spec.context) == count
        and all(c.is_leaf() for c in out_spec.children())
    ):
        return [str(key) for key in out_spec.context]
    return [f"output_{i}" for i in range(count)]


def _batch_rows(program: Any, values: list[Any]) -> RowRange | None:
    """The sizes the shared symbolic leading dimension of ``values`` may take; None: not batched."""
    if any(v.ndim == 0 or isinstance(v.shape[0], int) for v in values):
        return None
    symbols = {v.shape[0].node.expr for v in values}
    if len(symbols) != 1:
        return None
    bounds = program.range_constraints.get(symbols.pop())
    if bounds is None:
        return RowRange()
    # int_oo (torch's unbounded) reports is_finite True; only a sympy Integer is a real bound
    high = int(bounds.upper) if getattr(bounds.upper, "is_Integer", False) else None
    return RowRange(int(bounds.lower), high)


class TorchExportRuntime(Runtime):
    kind = "torch"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._module: Any = None
        self._in_spec: Any = None
        #: the inputs are the program's positional arguments, in order (no nesting, no keywords)
        self._positional = False
        #: ``forward`` returns a dict of tensors under the output names
        self._dict_out = False
        self._input_names: list[str] = []
        self._signature: Signature | None = None
        self._rows: RowRange | None = None
        self._lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()

    def load(self) -> None:
        file = self.path / MODEL_FILE
        if not self.options.allow_unsafe_pickle:
            raise LoadError(
                f"{MODEL_FILE} is read with torch.export.load, which unpickles parts of the archive and "
                "can run arbitrary code; start the server with --allow-unsafe-pickle if you trust this file"
            )
        try:
            readable = zipfile.is_zipfile(file)
        except zipfile.BadZipFile:  # is_zipfile lets some damaged end records through as errors
            readable = False
        except OSError as exc:
            raise LoadError(f"{MODEL_FILE} cannot be read: {exc.strerror or type(exc).__name__}") from None
        if not readable:
            raise LoadError(
                f"{MODEL_FILE} is corrupt or truncated: it is not a zip archive (a .pt2 file is one)"
            )
        if self.options.intra_op_threads:
            torch.set_num_threads(self.options.intra_op_threads)
        try:
            program = torch.export.load(file)
            module = program.module()
            signature = self._describe(program)
        except LoadError:
            raise
        except Exception as exc:
            raise LoadError(f"{MODEL_FILE} could not be loaded by torch.export: {first_line(exc)}") from None
        devices = {t.device.type for t in [*module.parameters(), *module.buffers()]}
        if devices - {"cpu"}:
            raise LoadError(
                f"{MODEL_FILE} holds weights on {', '.join(sorted(devices - {'cpu'}))}; export on the CPU"
            )
        if program.graph_signature.buffers_to_mutate:
            self._lock = threading.Lock()
        self._module = module
        self._signature = signature
        self._in_spec = program.call_spec.in_spec
        positions = list(range(len(self._input_names)))
        self._positional = pytree.tree_unflatten(positions, self._in_spec) == (tuple(positions), {})
        out_spec = program.call_spec.out_spec
        self._dict_out = out_spec.type is dict and list(out_spec.context) == list(signature.outputs)
        self._trial_run(program.example_inputs)

    def _trial_run(self, example: Any) -> None:
        """Run the program on the example inputs saved with it, through the serving path: a damaged
        graph fails here, at load, rather than on requests."""
        if example is None:
            return
        leaves = pytree.tree_leaves(example)
        if len(leaves) != len(self._input_names) or not all(isinstance(t, torch.Tensor) for t in leaves):
            return
        assert self._signature is not None
        inputs = {name: t.detach().cpu().numpy() for name, t in zip(self._input_names, leaves, strict=True)}
        try:
            self.predict(self._signature, inputs)
        except Exception as exc:
            self._module = None
            raise LoadError(
                f"{MODEL_FILE} failed a trial run on the example inputs saved with it: {first_line(exc)}"
            ) from None

    def _describe(self, program: Any) -> Signature:
        """The signature from the program's graph; sets the input order and the batch range."""
        from torch.export.graph_signature import InputKind, OutputKind

        nodes = {node.name: node for node in program.graph.nodes}
        inputs: dict[str, TensorSpec] = {}
        values = []
        for spec in program.graph_signature.input_specs:
            if spec.kind != InputKind.USER_INPUT:
                continue
            name = str(getattr(spec.arg, "name", ""))
            node = nodes.get(name)
            if node is None:
                raise LoadError(
                    f"input {spec.arg} is a constant, not a tensor; Moorings serves tensor inputs only"
                )
            value = node.meta.get("val")
            inputs[name] = _spec(name, value)
            values.append(value)
        user_outputs = [s for s in program.graph_signature.output_specs if s.kind == OutputKind.USER_OUTPUT]
        output_names = _output_names(program.call_spec.out_spec, len(user_outputs))
        outputs: dict[str, TensorSpec] = {}
        for served_name, spec in zip(output_names, user_outputs, strict=True):
            node = nodes.get(getattr(spec.arg, "name", ""))
            value = node.meta.get("val") if node is not None else None
            outputs[served_name] = _spec(served_name, value)
            values.append(value)
        if not outputs:
            raise LoadError(f"the program in {MODEL_FILE} has no tensor outputs")
        self._input_names = list(inputs)
        self._rows = _batch_rows(program, values) if inputs else None
        return Signature(DEFAULT_SIGNATURE, inputs, outputs)

    @property
    def signatures(self) -> dict[str, Signature]:
        assert self._signature is not None, "load() first"
        return {DEFAULT_SIGNATURE: self._signature}

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        assert self._signature is not None, "load() first"
        names = list(self._signature.outputs)
        if self._rows is None:
            return self._run(inputs, names)
        return run_rows(lambda feeds: self._run(feeds, names), inputs, self._rows)

    def _run(self, inputs: Tensors, names: list[str]) -> Tensors:
        flat = [torch.from_numpy(_writable(inputs[name])) for name in self._input_names]
        args, kwargs = (flat, {}) if self._positional else pytree.tree_unflatten(flat, self._in_spec)
        with torch.inference_mode(), self._lock:
            try:
                result = self._module(*args, **kwargs)
            except (AssertionError, IndexError, RuntimeError, ValueError) as exc:
                raise InvalidArgument(f"the model rejected the input: {first_line(exc)}") from None
        if self._dict_out:
            return {name: result[name].detach().numpy() for name in names}
        leaves = pytree.tree_leaves(result)
        return {name: leaf.detach().numpy() for name, leaf in zip(names, leaves, strict=True)}

    def unload(self) -> None:
        self._module = None


def _writable(value: np.ndarray) -> np.ndarray:
    """``value`` itself when torch may share it, else a copy (torch.from_numpy warns on read-only arrays)."""
    if value.flags.writeable and value.flags.c_contiguous:
        return value
    return np.array(value, order="C")

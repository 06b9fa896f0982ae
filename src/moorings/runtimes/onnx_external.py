"""ONNX external data stays inside the version folder.

An ONNX model may keep a tensor's bytes in another file, named by the tensor's
``external_data`` entry ``location``; ONNX Runtime reads it relative to the
model. A model file is data from outside, so before ONNX Runtime opens it every
location is checked: a relative path, without ``..``, naming a file that exists
and that (symlinks resolved) lies inside the version folder. Anything else
fails the load, naming the tensor.

A model with no external data never contains the key ``location``; only one
that does is parsed here (with the ``onnx`` package).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from moorings.errors import LoadError
from moorings.repository.paths import inside

EXTERNAL_KEY = b"location"


def _mentions_location(file: Path) -> bool:
    with file.open("rb") as handle:
        try:
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
                return view.find(EXTERNAL_KEY) != -1
        except ValueError:  # an empty file cannot be mapped
            return False


def _graph_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: Any) -> Iterator[Any]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for graph in attr.graphs:
            yield from _graph_tensors(graph)


def all_tensors(model: Any) -> Iterator[Any]:
    """Every tensor of a ModelProto: initializers, constants and those of subgraphs and functions."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _node_tensors(node)


def location_problem(folder: Path, location: str) -> str | None:
    """Why ``location`` may not be read for a model in ``folder`` (resolved), or None."""
    if not location:
        return "names no file"
    for pure in (PurePosixPath(location), PureWindowsPath(location)):
        if pure.is_absolute() or pure.drive or pure.root:
            return "is an absolute path"
        if ".." in pure.parts:
            return "climbs out with '..'"
    target = folder / location
    if not target.exists() and not target.is_symlink():
        return "names a file that does not exist"
    if not inside(folder, target):
        return "leaves the version folder (a symlink)"
    return None


def check_external_data(file: Path) -> None:
    """LoadError when a tensor of the model ``file`` keeps its data outside the file's folder."""
    if not file.is_file() or not _mentions_location(file):
        return  # (a missing model.onnx is ONNX Runtime's to report)
    try:
        import onnx
    except ImportError:
        raise LoadError(
            "model.onnx keeps tensor data in other files; checking where needs the onnx package "
            "(pip install onnx)"
        ) from None
    try:
        model = onnx.load(str(file), load_external_data=False)
    except Exception as exc:
        raise LoadError(f"model.onnx could not be parsed: {type(exc).__name__}") from None
    folder = file.parent.resolve()
    for tensor in all_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        problem = location_problem(folder, location)
        if problem is not None:
            raise LoadError(
                f"model.onnx: tensor {tensor.name[:100]!r} keeps its data in {location[:200]!r}, which "
                f"{problem}; external data must be a file inside the version folder"
            )

"""Protocol buffer descriptors read out of installed ``*_pb2.py`` files, without importing them.

A generated ``*_pb2.py`` module carries its ``.proto`` file as one bytes literal,
the serialized ``FileDescriptorProto`` it hands to
``descriptor_pool.Default().AddSerializedFile(b'...')`` (or, in older generated
code, to ``FileDescriptor(serialized_pb=b'...')``). Importing the module would
also import its package, and some packages' ``__init__.py`` is expensive
(``tensorflow/__init__.py`` imports all of TensorFlow). So :func:`load_pool`
never imports or executes one:

1. it finds each module's file from the *top-level* package's location
   (``importlib.machinery.PathFinder.find_spec`` of ``tensorflow`` reads the
   path list only, its ``__init__.py`` does not run) and the dotted name;
2. it parses the file with :mod:`ast` and takes the bytes literal and the
   ``*_pb2`` modules the file imports, and follows those imports;
3. it adds the files to a private :class:`~google.protobuf.descriptor_pool.DescriptorPool`
   in dependency order (each ``FileDescriptorProto.dependency`` first). A
   dependency no import names is looked for at the module path of its
   ``.proto`` name (``a/b/c.proto`` -> ``a.b.c_pb2``).

Message classes then come from ``message_factory.GetMessageClass`` on the
pool's descriptors. They are wire-compatible with the generated ones but are
different classes (the default pool is left alone, so a later real import of
the generated modules does not clash with them).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Sequence
from importlib.machinery import PathFinder
from typing import NamedTuple

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError

PB2_SUFFIX = "_pb2"


class MissingDescriptors(ImportError):
    """A module or ``.proto`` file needed for the descriptors is not installed (or not readable)."""


def module_file(module: str, search_path: Sequence[str] | None = None) -> str:
    """The path of ``module``'s ``.py`` file, found without importing any package on the way."""
    top, *rest = module.split(".")
    spec = PathFinder.find_spec(top, None if search_path is None else list(search_path))
    if spec is None or not spec.submodule_search_locations:
        raise MissingDescriptors(f"the package {top!r} (for {module}) is not installed")
    for base in spec.submodule_search_locations:
        path = os.path.join(base, *rest) + ".py"
        if os.path.isfile(path):
            return path
    raise MissingDescriptors(f"{module} is not in the installed package {top!r}")


def read_module(path: str) -> tuple[bytes | None, list[str]]:
    """The serialized FileDescriptorProto in a generated module's source, and the *_pb2 modules it imports."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError) as exc:
        raise MissingDescriptors(f"could not read {path}: {exc}") from None
    serialized: bytes | None = None
    imports: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.endswith(PB2_SUFFIX):  # from a.b_pb2 import *
                imports.append(node.module)
            imports += [f"{node.module}.{a.name}" for a in node.names if a.name.endswith(PB2_SUFFIX)]
        elif isinstance(node, ast.Import):
            imports += [a.name for a in node.names if a.name.endswith(PB2_SUFFIX)]
        elif isinstance(node, ast.Call) and serialized is None:
            serialized = _serialized_argument(node)
    return serialized, imports


def _serialized_argument(call: ast.Call) -> bytes | None:
    """The bytes literal of ``….AddSerializedFile(b'…')`` or of ``…(serialized_pb=b'…')``, else None."""
    candidates: list[ast.expr] = []
    if isinstance(call.func, ast.Attribute) and call.func.attr == "AddSerializedFile" and call.args:
        candidates.append(call.args[0])
    candidates += [k.value for k in call.keywords if k.arg == "serialized_pb"]
    for node in candidates:
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            return node.value
    return None


class FileEntry(NamedTuple):
    proto: descriptor_pb2.FileDescriptorProto
    serialized: bytes


def collect(roots: Iterable[str], search_path: Sequence[str] | None = None) -> dict[str, FileEntry]:
    """Every file descriptor the ``roots`` modules need, by ``.proto`` name, read from their sources."""
    files: dict[str, FileEntry] = {}
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        serialized, imports = read_module(module_file(module, search_path))
        if serialized is not None:
            try:
                proto = descriptor_pb2.FileDescriptorProto.FromString(serialized)
            except DecodeError:
                raise MissingDescriptors(f"{module} holds bytes that are not a FileDescriptorProto") from None
            files.setdefault(proto.name, FileEntry(proto, serialized))
        pending += imports
    return files


def _module_of(proto_name: str) -> str:
    """``a/b/c.proto`` -> ``a.b.c_pb2``, where protoc's Python output puts it."""
    stem = proto_name.removesuffix(".proto")
    return stem.replace("/", ".") + PB2_SUFFIX


def load_pool(
    roots: Iterable[str], search_path: Sequence[str] | None = None
) -> descriptor_pool.DescriptorPool:
    """A new DescriptorPool holding the files of the ``roots`` modules and all they depend on.

    ``search_path`` replaces ``sys.path`` for finding the packages. Raises
    :class:`MissingDescriptors` naming what is not installed.
    """
    files = collect(roots, search_path)
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str, needed_by: str) -> None:
        if name in added:
            return
        entry = files.get(name)
        if entry is None:
            module = _module_of(name)
            try:
                files.update(collect([module], search_path))
            except MissingDescriptors as exc:
                raise MissingDescriptors(f"{name} (imported by {needed_by}): {exc}") from None
            entry = files.get(name)
            if entry is None:
                raise MissingDescriptors(f"{name} (imported by {needed_by}) is not in {module}")
        added.add(name)  # before the dependencies: a cycle cannot recurse forever
        for dependency in entry.proto.dependency:
            add(dependency, name)
        try:
            pool.AddSerializedFile(entry.serialized)
        except (TypeError, ValueError) as exc:  # e.g. files of mismatched package versions
            raise MissingDescriptors(f"{name} could not be added: {exc}") from None

    for name in list(files):
        add(name, "the requested modules")
    return pool

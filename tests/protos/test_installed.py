"""Descriptors read out of installed generated modules' sources: found, ordered, never executed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from moorings.protos import search_pb2
from moorings.protos.installed import MissingDescriptors, load_pool, module_file, read_module

# a package whose code must never run: importing or executing anything in it fails loudly
TRAP = "raise SystemExit('this module was executed')\n"


def _file(name: str, package: str, *, dependencies: tuple[str, ...] = (), field_type: str = "") -> bytes:
    """A serialized FileDescriptorProto with one message ``M`` (with a field of ``field_type`` if given)."""
    proto = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    proto.dependency.extend(dependencies)
    message = proto.message_type.add(name="M")
    if field_type:
        message.field.add(
            name="other",
            number=1,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            type_name=field_type,
        )
    return proto.SerializeToString()


def _write_module(root: Path, module: str, body: str) -> None:
    """``module`` (dotted) as a file under ``root``, every package on the way trapped."""
    parts = module.split(".")
    folder = root.joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    for depth in range(1, len(parts)):
        root.joinpath(*parts[:depth], "__init__.py").write_text(TRAP)
    (folder / f"{parts[-1]}.py").write_text(TRAP + body)


def test_reads_the_same_descriptor_the_generated_module_adds() -> None:
    pool = load_pool(["moorings.protos.search_pb2"])
    ours = pool.FindFileByName("moorings/protos/search.proto")
    assert ours.serialized_pb == search_pb2.DESCRIPTOR.serialized_pb
    assert [s.full_name for s in ours.services_by_name.values()] == ["moorings.search.v1.CollectionService"]


def test_follows_imports_and_proto_paths_without_running_any_code(tmp_path: Path) -> None:
    a = _file("pa/a.proto", "pa", dependencies=("pb/b.proto",), field_type=".pb.M")
    b = _file("pb/b.proto", "pb", dependencies=("pc/c.proto",), field_type=".pc.M")
    c = _file("pc/c.proto", "pc")
    # a imports b as protoc writes it; b names c only in its descriptor (found at c's proto path);
    # c is old-style generated code (serialized_pb=)
    _write_module(tmp_path, "pa.a_pb2", f"from pb import b_pb2 as x\nD = P().AddSerializedFile({a!r})\n")
    _write_module(tmp_path, "pb.b_pb2", f"D = P().AddSerializedFile({b!r})\n")
    _write_module(tmp_path, "pc.c_pb2", f"D = FileDescriptor(name='pc/c.proto', serialized_pb={c!r})\n")
    pool = load_pool(["pa.a_pb2"], search_path=[str(tmp_path)])
    field = pool.FindMessageTypeByName("pa.M").fields_by_name["other"]
    assert field.message_type.full_name == "pb.M"
    assert field.message_type.fields_by_name["other"].message_type.full_name == "pc.M"


def test_a_missing_package_is_named(tmp_path: Path) -> None:
    with pytest.raises(MissingDescriptors, match=r"the package 'nowhere' .* is not installed"):
        load_pool(["nowhere.apis.x_pb2"], search_path=[str(tmp_path)])
    _write_module(tmp_path, "pa.a_pb2", "")
    with pytest.raises(MissingDescriptors, match=r"pa\.other_pb2 is not in the installed package 'pa'"):
        module_file("pa.other_pb2", [str(tmp_path)])


def test_a_missing_dependency_names_the_file_and_who_needs_it(tmp_path: Path) -> None:
    a = _file("pa/a.proto", "pa", dependencies=("gone/b.proto",), field_type=".gone.M")
    _write_module(tmp_path, "pa.a_pb2", f"D = P().AddSerializedFile({a!r})\n")
    with pytest.raises(MissingDescriptors, match=r"gone/b\.proto \(imported by pa/a\.proto\).*'gone'"):
        load_pool(["pa.a_pb2"], search_path=[str(tmp_path)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("D = P().AddSerializedFile(b'\\xff\\xff')\n", "not a FileDescriptorProto"),
        ("def broken(:\n", "could not read"),
    ],
)
def test_unreadable_modules_are_named(tmp_path: Path, body: str, message: str) -> None:
    _write_module(tmp_path, "pa.a_pb2", body)
    with pytest.raises(MissingDescriptors, match=message):
        load_pool(["pa.a_pb2"], search_path=[str(tmp_path)])


def test_conflicting_descriptors_are_refused(tmp_path: Path) -> None:
    # two files defining the same message name cannot share a pool
    a = _file("pa/a.proto", "same", dependencies=("pb/b.proto",))
    b = _file("pb/b.proto", "same")
    _write_module(tmp_path, "pa.a_pb2", f"from pb import b_pb2\nD = P().AddSerializedFile({a!r})\n")
    _write_module(tmp_path, "pb.b_pb2", f"D = P().AddSerializedFile({b!r})\n")
    with pytest.raises(MissingDescriptors, match="could not be added"):
        load_pool(["pa.a_pb2"], search_path=[str(tmp_path)])


def test_a_module_without_a_descriptor_contributes_only_its_imports(tmp_path: Path) -> None:
    c = _file("pc/c.proto", "pc")
    _write_module(tmp_path, "pa.a_pb2", "from pc.c_pb2 import *\n")
    _write_module(tmp_path, "pc.c_pb2", f"D = P().AddSerializedFile({c!r})\n")
    assert read_module(module_file("pa.a_pb2", [str(tmp_path)])) == (None, ["pc.c_pb2"])
    assert load_pool(["pa.a_pb2"], search_path=[str(tmp_path)]).FindMessageTypeByName("pc.M")


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow's files")
def test_tensorflows_reexported_error_codes_resolve() -> None:
    # tensorflow/core/protobuf/error_codes_pb2.py re-exports xla/tsl's, which lives at another module path
    pool = load_pool(["tensorflow.core.protobuf.error_codes_pb2"])
    assert pool.FindEnumTypeByName("tensorflow.error.Code").values_by_name["OK"].number == 0

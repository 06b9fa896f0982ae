"""TF Serving's messages and services from the installed packages' descriptors, without TensorFlow."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import moorings

needs_tfs = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_serving") is None, reason="needs tensorflow-serving-api's files"
)
SRC = Path(moorings.__file__).parent.parent
FILES = [
    "classification",
    "get_model_metadata",
    "get_model_status",
    "inference",
    "input",
    "model",
    "predict",
    "regression",
]


def _run(code: str, *flags: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = None if path is None else {"PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


@needs_tfs
def test_the_tf_serving_front_end_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "import moorings.grpc.tfserving\n"
        "from moorings.protos.tfserving import predict_pb2\n"
        "assert predict_pb2.PredictRequest.DESCRIPTOR.full_name == 'tensorflow.serving.PredictRequest'\n"
        "tops = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(tops & {'tensorflow', 'tensorflow_serving', 'keras'}))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.tensorflow
@needs_tfs
def test_descriptors_equal_tensorflow_servings_own() -> None:
    from moorings.protos import tfserving

    for name in FILES:
        theirs = importlib.import_module(f"tensorflow_serving.apis.{name}_pb2")
        ours = getattr(tfserving, f"{name}_pb2")
        assert ours.DESCRIPTOR.serialized_pb == theirs.DESCRIPTOR.serialized_pb, name
        assert set(vars(ours)) - {"DESCRIPTOR", "__name__"} == set(
            theirs.DESCRIPTOR.message_types_by_name
        ) | set(theirs.DESCRIPTOR.enum_types_by_name)
    for name in ("prediction_service", "model_service"):
        theirs = importlib.import_module(f"tensorflow_serving.apis.{name}_pb2")
        ours = getattr(tfserving, f"{name}_pb2_grpc")
        assert ours.DESCRIPTOR.serialized_pb == theirs.DESCRIPTOR.serialized_pb, name


@pytest.mark.tensorflow
@needs_tfs
def test_messages_cross_the_wire_both_ways() -> None:
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2

    from moorings.protos import tfserving

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.version.value = 3
    request.inputs["x"].float_val.extend([1.5, 2.5])
    ours = tfserving.predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert (ours.model_spec.name, ours.model_spec.version.value) == ("m", 3)
    assert list(ours.inputs["x"].float_val) == [1.5, 2.5]
    response = tfserving.get_model_metadata_pb2.GetModelMetadataResponse()
    signatures = tfserving.get_model_metadata_pb2.SignatureDefMap()
    signatures.signature_def["serving_default"].method_name = "tensorflow/serving/predict"
    response.metadata["signature_def"].Pack(signatures)
    theirs = get_model_metadata_pb2.GetModelMetadataResponse.FromString(response.SerializeToString())
    unpacked = get_model_metadata_pb2.SignatureDefMap()
    assert theirs.metadata["signature_def"].Unpack(unpacked)
    assert unpacked.signature_def["serving_default"].method_name == "tensorflow/serving/predict"


@pytest.mark.parametrize(
    "with_tfs",
    [False, pytest.param(True, marks=needs_tfs)],
    ids=["nothing", "tfs-api-without-tensorflow"],
)
def test_without_the_packages_the_import_says_what_to_install(tmp_path: Path, with_tfs: bool) -> None:
    """A site with protobuf and grpcio only (an ONNX-only user), or also tensorflow-serving-api's files."""
    import google.protobuf
    import grpc
    import typing_extensions

    site = tmp_path / "site"
    site.mkdir()
    for package in (Path(google.protobuf.__file__).parent.parent, Path(grpc.__file__).parent):
        (site / package.name).symlink_to(package)
    (site / "typing_extensions.py").symlink_to(typing_extensions.__file__)
    if with_tfs:
        spec = importlib.util.find_spec("tensorflow_serving")
        assert spec is not None and spec.submodule_search_locations
        shutil.copytree(spec.submodule_search_locations[0], site / "tensorflow_serving")
    code = "from moorings.protos import tfserving"
    result = _run(code, "-S", path=f"{SRC}:{site}")  # -S: no site-packages, only the folders given
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("moorings.protos.installed.MissingDescriptors: TF Serving's gRPC messages")
    missing = "'tensorflow' (for tensorflow.core" if with_tfs else "'tensorflow_serving'"
    assert missing in last and "pip install 'moorings[tensorflow]'" in last

"""The real clients, unchanged, against a real server: TF Serving's gRPC stubs and tritonclient (HTTP, gRPC).

Every answer is compared with the model's own runtime called directly
(onnxruntime, TensorFlow, scikit-learn), for an ONNX model, a SavedModel, a
scikit-learn model and a string-input SavedModel.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from tests.support import onnx_models, sklearn_models
from tests.support.server import RunningServer, running_server

tf = pytest.importorskip("tensorflow")
th = pytest.importorskip("tritonclient.http")
tg = pytest.importorskip("tritonclient.grpc")
from tensorflow_serving.apis import (  # noqa: E402
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow]

RNG = np.random.default_rng(3)
X4 = RNG.normal(size=(3, 4)).astype(np.float32)
IRIS_X = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
TEXTS = np.array([b"hello", "na\xefve".encode(), b""], dtype=object)


@dataclass(frozen=True)
class Case:
    model: str
    input_name: str
    x: np.ndarray
    datatype: str
    reference: Callable[[np.ndarray], dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def cases(tf_models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    import onnxruntime as ort

    repo = tmp_path_factory.mktemp("clients") / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1", seed=1)
    onnx_models.write_mlp(repo / "mlp" / "2", seed=2)
    (repo / "mlp" / "model.toml").write_text('[versions]\npolicy = "all"\n[labels]\nstable = 1\ncanary = 2\n')
    shutil.copytree(tf_models / "keras_savedmodel", repo / "savedmodel" / "1")
    shutil.copytree(tf_models / "text", repo / "text" / "1")
    shutil.copytree(tf_models / "examples", repo / "examples" / "1")
    iris, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(iris, repo / "iris" / "1")
    diabetes, diabetes_x = sklearn_models.diabetes_regressor()
    sklearn_models.write_skops(diabetes, repo / "diabetes" / "1")

    def onnx_ref(version: int) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        session = ort.InferenceSession(str(repo / "mlp" / str(version) / "model.onnx"))
        return lambda x: {"probabilities": session.run(None, {"x": x})[0]}

    saved = tf.saved_model.load(str(repo / "savedmodel" / "1")).signatures["serving_default"]
    text = tf.saved_model.load(str(repo / "text" / "1")).signatures["serving_default"]
    result = {
        "onnx": Case("mlp", "x", X4, "FP32", onnx_ref(2)),
        "onnx-v1": Case("mlp", "x", X4, "FP32", onnx_ref(1)),
        "savedmodel": Case(
            "savedmodel",
            "features",
            X4,
            "FP32",
            lambda x: {k: v.numpy() for k, v in saved(features=x).items()},
        ),
        "sklearn": Case(
            "iris",
            "input",
            IRIS_X,
            "FP64",
            lambda x: {"label": iris.predict(x), "probabilities": iris.predict_proba(x)},
        ),
        "text": Case(
            "text",
            "text",
            TEXTS,
            "BYTES",
            lambda x: {k: v.numpy() for k, v in text(text=tf.constant(x.tolist())).items()},
        ),
    }
    result["_repo"] = repo  # type: ignore[assignment]
    result["_diabetes"] = (diabetes, diabetes_x[:3])  # type: ignore[assignment]
    return result


@pytest.fixture(scope="module")
def server(cases: dict[str, Any]) -> Iterator[RunningServer]:
    with running_server(cases["_repo"], tfserving_grpc=True) as running:
        yield running


@pytest.fixture(scope="module")
def h2_server(cases: dict[str, Any]) -> Iterator[RunningServer]:
    """The same repository behind Moorings' own gRPC front end (``--grpc-server moorings``)."""
    with running_server(cases["_repo"], "--grpc-server", "moorings", tfserving_grpc=True) as running:
        yield running


@pytest.fixture(scope="module", params=["grpcio", "moorings"])
def grpc_target(request: pytest.FixtureRequest) -> str:
    """Every gRPC test runs against both gRPC front ends."""
    fixture = "server" if request.param == "grpcio" else "h2_server"
    target: str = request.getfixturevalue(fixture).grpc_target
    return target


@pytest.fixture(scope="module")
def channel(grpc_target: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(grpc_target) as ch:
        yield ch


def _close(got: np.ndarray, want: np.ndarray) -> None:
    if want.dtype == object or want.dtype.kind in "SU":
        assert [bytes(v) if not isinstance(v, str) else v.encode() for v in got.reshape(-1)] == [
            v if isinstance(v, bytes) else str(v).encode() for v in want.reshape(-1)
        ]
        assert got.shape == want.shape
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert got.shape == want.shape


MODEL_CASES = ["onnx", "savedmodel", "sklearn", "text"]


# -- tritonclient ---------------------------------------------------------------------------------------


def test_triton_health_and_metadata(server: RunningServer, grpc_target: str) -> None:
    http = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    grpc_client = tg.InferenceServerClient(grpc_target)
    for client in (http, grpc_client):
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("mlp") and client.is_model_ready("mlp", "1")
        assert not client.is_model_ready("ghost")
    meta = http.get_model_metadata("mlp")
    assert meta == {
        "name": "mlp",
        "versions": ["1", "2"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
    }
    gmeta = grpc_client.get_model_metadata("mlp", as_json=True)
    assert gmeta["platform"] == "onnxruntime_onnx" and gmeta["versions"] == ["1", "2"]
    assert gmeta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "4"]}]
    assert http.get_model_metadata("savedmodel")["platform"] == "tensorflow_savedmodel"
    assert grpc_client.get_model_metadata("iris").platform == "sklearn"
    assert http.get_server_metadata()["extensions"] == ["binary_tensor_data", "classification"]


@pytest.mark.parametrize("case_name", MODEL_CASES)
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_triton_http_infer(
    server: RunningServer, cases: dict[str, Case], case_name: str, binary: bool
) -> None:
    case = cases[case_name]
    want = case.reference(case.x)
    client = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    tensor = th.InferInput(case.input_name, list(case.x.shape), case.datatype)
    tensor.set_data_from_numpy(case.x, binary_data=binary)
    outputs = [th.InferRequestedOutput(name, binary_data=binary) for name in want]
    if case_name == "text" and not binary:
        outputs = [th.InferRequestedOutput("length", binary_data=False)]  # upper_bytes is not UTF-8
        want = {"length": want["length"]}
    result = client.infer(case.model, [tensor], outputs=outputs)
    assert result.get_response()["model_name"] == case.model
    for name, expected in want.items():
        _close(result.as_numpy(name), expected)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_triton_http_compressed_request(
    server: RunningServer, cases: dict[str, Case], algorithm: str
) -> None:
    case = cases["onnx"]
    client = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    tensor = th.InferInput(case.input_name, list(case.x.shape), case.datatype)
    tensor.set_data_from_numpy(case.x, binary_data=True)
    result = client.infer(case.model, [tensor], request_compression_algorithm=algorithm)
    for name, expected in case.reference(case.x).items():
        _close(result.as_numpy(name), expected)


@pytest.mark.parametrize("case_name", MODEL_CASES)
def test_triton_grpc_infer(grpc_target: str, cases: dict[str, Case], case_name: str) -> None:
    case = cases[case_name]
    want = case.reference(case.x)
    client = tg.InferenceServerClient(grpc_target)
    tensor = tg.InferInput(case.input_name, list(case.x.shape), case.datatype)
    tensor.set_data_from_numpy(case.x)
    result = client.infer(case.model, [tensor])
    for name, expected in want.items():
        _close(result.as_numpy(name), expected)
    only = next(iter(want))
    result = client.infer(case.model, [tensor], outputs=[tg.InferRequestedOutput(only)])
    assert [o.name for o in result.get_response().outputs] == [only]


# -- TensorFlow Serving's gRPC API ----------------------------------------------------------------------


def _predict_request(model: str, inputs: dict[str, np.ndarray], **spec: Any) -> Any:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


@pytest.mark.parametrize("case_name", MODEL_CASES)
def test_tfserving_predict(channel: grpc.Channel, cases: dict[str, Case], case_name: str) -> None:
    case = cases[case_name]
    want = case.reference(case.x)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response = stub.Predict(_predict_request(case.model, {case.input_name: case.x}), timeout=30)
    assert response.model_spec.name == case.model
    assert response.model_spec.signature_name == "serving_default"
    assert response.model_spec.version.value >= 1
    assert set(response.outputs) == set(want)
    for name, expected in want.items():
        _close(tf.make_ndarray(response.outputs[name]), expected)


def test_tfserving_output_filter_and_typed_fields(channel: grpc.Channel, cases: dict[str, Case]) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "iris"
    request.output_filter.append("probabilities")
    proto = request.inputs["input"]
    proto.dtype = tf.float64.as_datatype_enum
    for size in IRIS_X.shape:
        proto.tensor_shape.dim.add().size = size
    proto.double_val.extend(IRIS_X.reshape(-1).tolist())
    response = stub.Predict(request, timeout=30)
    assert list(response.outputs) == ["probabilities"]
    _close(
        tf.make_ndarray(response.outputs["probabilities"]),
        cases["sklearn"].reference(IRIS_X)["probabilities"],
    )


def _examples(rows: list[dict[str, list[float]]]) -> list[Any]:
    out = []
    for row in rows:
        example = tf.train.Example()
        for key, values in row.items():
            example.features.feature[key].float_list.value.extend(values)
        out.append(example)
    return out


def test_tfserving_classify_and_regress(channel: grpc.Channel, cases: dict[str, Any]) -> None:
    from tests.support.tf_models import example_reference

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    x = np.array([[1.0, 2.0], [-0.5, 0.25]], dtype=np.float32)
    scores, sums = example_reference(x)

    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "examples"
    request.model_spec.signature_name = "classify_x"
    request.input.example_list.examples.extend(_examples([{"x": row} for row in x.tolist()]))
    response = stub.Classify(request, timeout=30)
    assert response.model_spec.signature_name == "classify_x"
    for got, want in zip(response.result.classifications, scores, strict=True):
        assert [c.label for c in got.classes] == ["cat", "dog"]
        np.testing.assert_allclose([c.score for c in got.classes], want, rtol=1e-5)

    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "examples"
    regress.model_spec.signature_name = "regress_x"
    # the shared feature goes in the context, as TF Serving allows
    regress.input.example_list_with_context.context.CopyFrom(_examples([{"x": [1.0, 2.0]}])[0])
    regress.input.example_list_with_context.examples.extend([tf.train.Example()])
    got = [r.value for r in stub.Regress(regress, timeout=30).result.regressions]
    np.testing.assert_allclose(got, sums[:1], rtol=1e-5)

    iris = classification_pb2.ClassificationRequest()
    iris.model_spec.name = "iris"
    iris.input.example_list.examples.extend(_examples([{"input": row} for row in IRIS_X.tolist()]))
    result = stub.Classify(iris, timeout=30).result.classifications
    np.testing.assert_allclose(
        [[c.score for c in r.classes] for r in result],
        cases["sklearn"].reference(IRIS_X)["probabilities"],
        rtol=1e-5,  # Class.score is a float32
    )

    diabetes, dx = cases["_diabetes"]
    reg = regression_pb2.RegressionRequest()
    reg.model_spec.name = "diabetes"
    reg.input.example_list.examples.extend(_examples([{"input": row} for row in dx.tolist()]))
    values = [r.value for r in stub.Regress(reg, timeout=30).result.regressions]
    np.testing.assert_allclose(values, diabetes.predict(dx), rtol=1e-5)


def test_tfserving_multi_inference(channel: grpc.Channel) -> None:
    from tests.support.tf_models import example_reference

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    x = np.array([[0.5, 1.5]], dtype=np.float32)
    scores, sums = example_reference(x)
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("classify_x", "classify"), ("regress_x", "regress")):
        task = request.tasks.add()
        task.model_spec.name = "examples"
        task.model_spec.signature_name = signature
        task.method_name = f"tensorflow/serving/{method}"
    request.input.example_list.examples.extend(_examples([{"x": x[0].tolist()}]))
    classified, regressed = stub.MultiInference(request, timeout=30).results
    np.testing.assert_allclose(
        [c.score for c in classified.classification_result.classifications[0].classes], scores[0]
    )
    np.testing.assert_allclose(regressed.regression_result.regressions[0].value, sums[0], rtol=1e-5)


def test_tfserving_metadata_and_status(channel: grpc.Channel) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "examples"
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=30)
    assert response.model_spec.version.value == 1
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    defs = signatures.signature_def
    assert set(defs) == {"serving_default", "classify_x", "regress_x"}
    assert defs["classify_x"].method_name == "tensorflow/serving/classify"
    x_info = defs["serving_default"].inputs["x"]
    assert x_info.dtype == tf.float32.as_datatype_enum
    assert [d.size for d in x_info.tensor_shape.dim] == [-1, 2]

    status_stub = model_service_pb2_grpc.ModelServiceStub(channel)
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "mlp"
    statuses = status_stub.GetModelStatus(status_request, timeout=30).model_version_status
    assert [(s.version, s.state) for s in statuses] == [
        (2, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
    ]
    status_request.model_spec.version_label = "stable"
    assert [s.version for s in status_stub.GetModelStatus(status_request).model_version_status] == [1]


# -- versions and labels through every protocol --------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "case_name"), [("1", "onnx-v1"), ("2", "onnx"), ("stable", "onnx-v1"), ("canary", "onnx")]
)
def test_versions_and_labels(
    server: RunningServer,
    grpc_target: str,
    channel: grpc.Channel,
    cases: dict[str, Case],
    selector: str,
    case_name: str,
) -> None:
    want = cases[case_name].reference(X4)["probabilities"]
    version = int(selector) if selector.isdigit() else {"stable": 1, "canary": 2}[selector]
    # TF Serving gRPC: version or version_label
    spec = {"version": version} if selector.isdigit() else {"version_label": selector}
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response = stub.Predict(_predict_request("mlp", {"x": X4}, **spec), timeout=30)
    assert response.model_spec.version.value == version
    _close(tf.make_ndarray(response.outputs["probabilities"]), want)
    # KServe V2 over HTTP and gRPC: the version string is a number or a label
    http = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    tensor = th.InferInput("x", [3, 4], "FP32")
    tensor.set_data_from_numpy(X4)
    result = http.infer("mlp", [tensor], model_version=selector)
    assert result.get_response()["model_version"] == str(version)
    _close(result.as_numpy("probabilities"), want)
    assert http.is_model_ready("mlp", selector)
    client = tg.InferenceServerClient(grpc_target)
    gtensor = tg.InferInput("x", [3, 4], "FP32")
    gtensor.set_data_from_numpy(X4)
    gresult = client.infer("mlp", [gtensor], model_version=selector)
    assert gresult.get_response().model_version == str(version)
    _close(gresult.as_numpy("probabilities"), want)

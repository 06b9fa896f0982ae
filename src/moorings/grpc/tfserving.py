"""TensorFlow Serving's ``PredictionService`` and ``ModelService`` over the dataplane.

The messages and servicer bases come from :mod:`moorings.protos.tfserving`:
built from the descriptors the installed ``tensorflow-serving-api`` package
carries, under the generated modules' names, without importing TensorFlow.

Model specs behave as in TensorFlow Serving: ``version`` (Int64Value) or
``version_label`` (a oneof); ``signature_name`` defaults to
``serving_default``; responses carry the resolved name, version and signature.
"""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

import numpy as np

from moorings.codecs import tensor_proto
from moorings.dataplane import DataPlane
from moorings.errors import InvalidArgument, Unimplemented
from moorings.grpc.status import deadline, rpc
from moorings.protos.tfserving import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from moorings.requests import ExamplesRequest, PredictRequest
from moorings.types import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    ClassifyResult,
    Example,
    ModelRef,
    ServableId,
    Signature,
    Tensors,
    TensorSpec,
    parse_ref,
)

Context = Any  # grpc.aio.ServicerContext (grpcio ships no type hints)
SIGNATURE_DEF_FIELD = "signature_def"


def model_ref(spec: Any) -> ModelRef:
    """The ModelRef of a ModelSpec (``version`` and ``version_label`` are a oneof in the proto)."""
    if not spec.name:
        raise InvalidArgument("model_spec.name is empty; name the model to use")
    if spec.HasField("version"):
        if spec.version.value < 0:
            raise InvalidArgument(f"model_spec.version must not be negative, got {spec.version.value}")
        return parse_ref(spec.name, version=str(spec.version.value))
    return parse_ref(spec.name, label=spec.version_label or None)


def fill_spec(target: Any, servable_id: ServableId, signature_name: str) -> None:
    target.name = servable_id.name
    target.version.value = servable_id.version
    target.signature_name = signature_name


def decode_inputs(request: Any, signature: Signature) -> Tensors:
    inputs: Tensors = {}
    for name, proto in request.inputs.items():
        where = f"input {name!r}"
        array = tensor_proto.to_numpy(proto, where)
        spec = signature.inputs.get(name)
        inputs[name] = array if spec is None else tensor_proto.check_dtype(array, spec.dtype, where)
    return inputs


def examples_of(input_proto: Any) -> list[Example]:
    """The tf.Example protos of an Input as the runtimes' feature dicts (context merged in)."""
    kind = input_proto.WhichOneof("kind")
    if kind == "example_list":
        protos, context = list(input_proto.example_list.examples), None
    elif kind == "example_list_with_context":
        protos = list(input_proto.example_list_with_context.examples)
        context = input_proto.example_list_with_context.context
    else:
        raise InvalidArgument("input must hold example_list or example_list_with_context")
    if not protos:
        raise InvalidArgument("input holds no examples")
    shared = _features(context) if context is not None else {}
    return [{**shared, **_features(p)} for p in protos]


def _features(example: Any) -> Example:
    features: Example = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind == "float_list":
            features[key] = list(feature.float_list.value)
        elif kind == "int64_list":
            features[key] = list(feature.int64_list.value)
        elif kind == "bytes_list":
            features[key] = [{"b64": base64.b64encode(v).decode()} for v in feature.bytes_list.value]
        else:
            features[key] = []
    return features


def _tensor_info(spec: TensorSpec, target: Any) -> None:
    target.name = spec.tensor_name or spec.name
    target.dtype = spec.dtype.tf_enum
    if spec.shape is None:
        target.tensor_shape.unknown_rank = True
    else:
        for size in spec.shape:
            target.tensor_shape.dim.add().size = size


def signature_def_map(signatures: dict[str, Signature]) -> Any:
    result = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in sorted(signatures.items()):
        target = result.signature_def[name]
        target.method_name = signature.method_name
        for key, spec in signature.inputs.items():
            _tensor_info(spec, target.inputs[key])
        for key, spec in signature.outputs.items():
            _tensor_info(spec, target.outputs[key])
    return result


def _fill_classifications(result: ClassifyResult, target: Any) -> None:
    for labels, scores in zip(result.labels, result.scores, strict=True):
        classifications = target.classifications.add()
        for label, score in zip(labels, scores, strict=False):
            classifications.classes.add(label=label, score=score)


def _fill_regressions(values: list[float], target: Any) -> None:
    for value in values:
        target.regressions.add(value=value)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    @rpc
    async def Predict(self, request: Any, context: Context) -> Any:
        result = await self.dataplane.predict(
            PredictRequest(
                model_ref(request.model_spec),
                partial(decode_inputs, request),
                signature_name=request.model_spec.signature_name or None,
                outputs=tuple(request.output_filter) or None,
                outputs_field="output_filter",
                deadline=deadline(context),
                lift_trailing_ones=True,
            )
        )
        response = predict_pb2.PredictResponse()
        fill_spec(response.model_spec, result.servable, result.signature.name)
        for name, array in result.outputs.items():
            tensor_proto.from_numpy(np.asarray(array), response.outputs[name], typed=True)
        return response

    @rpc
    async def Classify(self, request: Any, context: Context) -> Any:
        outcome = await self.dataplane.classify(_examples_request(request, context))
        response = classification_pb2.ClassificationResponse()
        fill_spec(response.model_spec, outcome.servable, _signature_name(request))
        _fill_classifications(outcome.result, response.result)
        return response

    @rpc
    async def Regress(self, request: Any, context: Context) -> Any:
        outcome = await self.dataplane.regress(_examples_request(request, context))
        response = regression_pb2.RegressionResponse()
        fill_spec(response.model_spec, outcome.servable, _signature_name(request))
        _fill_regressions(outcome.values, response.result)
        return response

    @rpc
    async def MultiInference(self, request: Any, context: Context) -> Any:
        if not request.tasks:
            raise InvalidArgument("MultiInference needs at least one task")
        examples = examples_of(request.input)
        until = deadline(context)
        response = inference_pb2.MultiInferenceResponse()
        for task in request.tasks:
            task_request = ExamplesRequest(
                model_ref(task.model_spec), examples, task.model_spec.signature_name or None, until
            )
            result = response.results.add()
            if task.method_name == CLASSIFY_METHOD:
                classified = await self.dataplane.classify(task_request)
                fill_spec(result.model_spec, classified.servable, _signature_name(task))
                _fill_classifications(classified.result, result.classification_result)
            elif task.method_name == REGRESS_METHOD:
                regressed = await self.dataplane.regress(task_request)
                fill_spec(result.model_spec, regressed.servable, _signature_name(task))
                _fill_regressions(regressed.values, result.regression_result)
            else:
                raise Unimplemented(
                    f"task method_name {task.method_name!r} is not supported; use "
                    f"{CLASSIFY_METHOD!r} or {REGRESS_METHOD!r}"
                )
        return response

    @rpc
    async def GetModelMetadata(self, request: Any, context: Context) -> Any:
        fields = list(request.metadata_field)
        if fields != [SIGNATURE_DEF_FIELD]:
            raise InvalidArgument(
                f"metadata_field must be [{SIGNATURE_DEF_FIELD!r}] (the only metadata served), got {fields}"
            )
        meta = self.dataplane.metadata(model_ref(request.model_spec))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        fill_spec(response.model_spec, meta.servable, "")
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_def_map(meta.signatures))
        return response


def _signature_name(request: Any) -> str:
    """The signature name a Classify/Regress response reports: the one asked for, else the default."""
    return request.model_spec.signature_name or DEFAULT_SIGNATURE


def _examples_request(request: Any, context: Context) -> ExamplesRequest:
    ref = model_ref(request.model_spec)
    examples = examples_of(request.input)
    return ExamplesRequest(ref, examples, request.model_spec.signature_name or None, deadline(context))


class ModelService(model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    @rpc
    async def GetModelStatus(self, request: Any, context: Context) -> Any:
        status = self.dataplane.status(model_ref(request.model_spec))
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in status.versions:
            item = response.model_version_status.add()
            item.version = version.version
            item.state = version.state.value
            item.status.error_code = 2 if version.error else 0  # UNKNOWN / OK, as TF Serving reports
            item.status.error_message = version.error or ""
        return response

    @rpc
    async def HandleReloadConfigRequest(self, request: Any, context: Context) -> Any:
        raise Unimplemented("model config reloads are not served; the repository is polled instead")


def register(dataplane: DataPlane, server: Any) -> None:
    """Add both services to ``server`` (anything with ``add_generic_rpc_handlers``)."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(dataplane), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(dataplane), server)

"""KServe V2's ``inference.GRPCInferenceService`` over the dataplane.

The messages and the servicer base are built from tritonclient's descriptors
(:mod:`moorings.protos.kserve`, without importing its client). Inputs arrive in
``raw_input_contents`` (one entry per input, raw bytes as in
:mod:`moorings.codecs.v2_binary`) or in the typed ``contents`` fields; outputs
always go back in ``raw_output_contents``, which every V2 client reads.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import grpc
import numpy as np

from moorings import dtypes
from moorings.codecs import classification, v2_binary, v2_metadata
from moorings.codecs.shapes import check_shape
from moorings.codecs.v2_json import cast_inputs, parse_datatype
from moorings.dataplane import DataPlane
from moorings.dtypes import DType
from moorings.errors import InvalidArgument, MooringsError, NotFound, Unavailable
from moorings.grpc.status import deadline, rpc, rpc_stream
from moorings.protos.kserve import service_pb2, service_pb2_grpc
from moorings.requests import PredictRequest, PredictResult
from moorings.types import Signature, Tensors

# InferTensorContents field of each datatype (FP16 has none: it travels raw)
_CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

log = logging.getLogger(__name__)

Context = Any  # grpc.aio.ServicerContext (grpcio ships no type hints)


def _shape(values: Any, name: str) -> tuple[int, ...]:
    return check_shape(values, f"input {name!r}")  # a repeated int64 field: Python ints already


def _from_contents(tensor: Any, dtype: DType, shape: tuple[int, ...], where: str) -> np.ndarray:
    field = _CONTENTS_FIELD.get(dtype.v2_name)
    if field is None:
        raise InvalidArgument(f"{where}: {dtype.v2_name} data must be sent in raw_input_contents")
    values = getattr(tensor.contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidArgument(
            f"{where}: contents.{field} holds {len(values)} values but shape {list(shape)} needs {count}"
        )
    if dtype.is_string:
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    try:
        return np.asarray(values, dtype=dtype.numpy).reshape(shape)
    except OverflowError:
        raise InvalidArgument(f"{where}: a value is out of range for {dtype.v2_name}") from None


def decode_for_signature(request: Any, signature: Signature) -> Tensors:
    """The request's tensors, cast to the signature's dtypes where they are the same kind of number."""
    return cast_inputs(signature, decode_inputs(request))


def decode_inputs(request: Any) -> Tensors:
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidArgument(
            f"raw_input_contents has {len(raw)} entries but the request has {len(request.inputs)} inputs; "
            "send every input raw or none"
        )
    inputs: Tensors = {}
    for i, tensor in enumerate(request.inputs):
        name = tensor.name
        if name in inputs:
            raise InvalidArgument(f"input {name!r} is given twice")
        try:
            dtype = dtypes.from_v2(tensor.datatype)
        except KeyError:
            dtype = parse_datatype(tensor.datatype, f"input {name!r}")  # raises, naming those known
        shape = _shape(tensor.shape, name)
        if raw:
            inputs[name] = v2_binary.from_raw(raw[i], dtype, shape, name)
        else:
            inputs[name] = _from_contents(tensor, dtype, shape, f"input {name!r}")
    return inputs


def _tensor_metadata(item: dict[str, Any]) -> Any:
    return service_pb2.ModelMetadataResponse.TensorMetadata(
        name=item["name"], datatype=item["datatype"], shape=item["shape"]
    )


def _class_count(output: Any) -> int:
    """The k of an output's ``classification`` parameter (tritonclient sends an int64_param)."""
    param = output.parameters["classification"]
    choice = param.WhichOneof("parameter_choice")
    value = getattr(param, choice) if choice in ("int64_param", "uint64_param") else None
    return classification.check_k(value, f"output {output.name!r}: parameters.classification")


class KServeService(service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    """Health, metadata and inference of the V2 protocol."""

    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    @rpc
    async def ServerLive(self, request: Any, context: Context) -> Any:
        return service_pb2.ServerLiveResponse(live=True)

    @rpc
    async def ServerReady(self, request: Any, context: Context) -> Any:
        return service_pb2.ServerReadyResponse(ready=self.dataplane.is_ready())

    @rpc
    async def ModelReady(self, request: Any, context: Context) -> Any:
        ref = v2_metadata.model_ref(request.name, request.version)
        try:
            ready = self.dataplane.is_model_ready(ref)
        except (NotFound, Unavailable):
            ready = False
        return service_pb2.ModelReadyResponse(ready=ready)

    @rpc
    async def ServerMetadata(self, request: Any, context: Context) -> Any:
        meta = v2_metadata.server_metadata()
        return service_pb2.ServerMetadataResponse(
            name=meta["name"], version=meta["version"], extensions=meta["extensions"]
        )

    @rpc
    async def ModelMetadata(self, request: Any, context: Context) -> Any:
        ref = v2_metadata.model_ref(request.name, request.version)
        meta = v2_metadata.model_metadata(self.dataplane.metadata(ref))
        return service_pb2.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=[_tensor_metadata(t) for t in meta["inputs"]],
            outputs=[_tensor_metadata(t) for t in meta["outputs"]],
        )

    @rpc
    async def ModelInfer(self, request: Any, context: Context) -> Any:
        predict, ranked = _predict_request(request, context)
        result = await self.dataplane.predict(predict)
        return _infer_response(result, request.id, ranked)

    @rpc_stream
    async def ModelStreamInfer(self, requests: AsyncIterator[Any], context: Context) -> None:
        """Each request of the call in turn: its results as they come (a streaming Python model's
        partial results, or another model's one result), each as a response; a request that fails
        is one response with its ``error_message``, and the call goes on with the next request.

        A response is made only once the one before it is sent (grpcio's flow control), so a slow
        reader holds the model back; a cancelled call closes the model's generator.
        """
        async for request in requests:
            try:
                await self._stream_one(request, context)
            except MooringsError as exc:
                await context.write(service_pb2.ModelStreamInferResponse(error_message=exc.message))
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception:
                log.exception("unhandled error in ModelStreamInfer")
                error = "internal server error; see the server log"
                await context.write(service_pb2.ModelStreamInferResponse(error_message=error))

    async def _stream_one(self, request: Any, context: Context) -> None:
        predict, ranked = _predict_request(request, context)
        stream = await self.dataplane.stream(predict)
        try:
            async for result in stream:
                response = _infer_response(result, request.id, ranked)
                await context.write(service_pb2.ModelStreamInferResponse(infer_response=response))
        finally:
            await stream.aclose()


def _predict_request(request: Any, context: Context) -> tuple[PredictRequest, dict[str, int]]:
    """The runner's request for a ModelInferRequest, and the outputs asked for as classes (name ->
    how many)."""
    ref = v2_metadata.model_ref(request.model_name, request.model_version)
    ranked = {o.name: _class_count(o) for o in request.outputs if "classification" in o.parameters}
    outputs = tuple(o.name for o in request.outputs) or None
    decode = partial(decode_for_signature, request)
    return PredictRequest(ref, decode, outputs=outputs, deadline=deadline(context)), ranked


def _infer_response(result: PredictResult, request_id: str, ranked: dict[str, int]) -> Any:
    """A ModelInferResponse of ``result``; outputs in ``ranked`` as their top-k class strings."""
    response = service_pb2.ModelInferResponse(
        model_name=result.servable.name, model_version=str(result.servable.version), id=request_id
    )
    for name, array in result.outputs.items():
        if name in ranked:
            names = classification.names_for(result.classes, name)
            array = classification.triton_strings(array, ranked[name], names, name)
        tensor = response.outputs.add()
        tensor.name = name
        tensor.datatype = dtypes.from_numpy(array.dtype).v2_name
        tensor.shape.extend(array.shape)
        response.raw_output_contents.append(v2_binary.to_raw(array))
    return response


def register(dataplane: DataPlane, server: grpc.aio.Server) -> None:
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(KServeService(dataplane), server)

"""TensorFlow Serving's warm-up file: ``assets.extra/tf_serving_warmup_requests``.

A TFRecord file (see :mod:`moorings.warmup.tfrecord`) of ``PredictionLog``
protos, each holding one predict, classify, regress or multi-inference request
(its response is ignored). As in TF Serving, the requests run on the version
loading whatever model name and version their ``model_spec`` says; the
signature name and output filter are used.

The ``PredictionLog`` class is built from the descriptors of the installed
``tensorflow-serving-api`` and ``tensorflow`` packages without importing
TensorFlow (:mod:`moorings.protos.installed`), the first time a version has
this file.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from moorings.errors import InvalidArgument, MooringsError
from moorings.requests import ExamplesRequest, PredictRequest
from moorings.types import CLASSIFY_METHOD, REGRESS_METHOD, ModelRef
from moorings.warmup import tfrecord
from moorings.warmup.calls import Call, classify_call, predict_call, regress_call

FILE_NAME = "tf_serving_warmup_requests"
FOLDER = "assets.extra"


def calls(data: bytes, ref: ModelRef, limit: int) -> list[Call]:
    """The replays of a warm-up file's bytes; InvalidArgument names the bad record."""
    framed = list(tfrecord.records(data, limit, f"{FOLDER}/{FILE_NAME}"))
    prediction_log_class = _prediction_log_class()
    result: list[Call] = []
    for index, record in enumerate(framed):
        where = f"{FILE_NAME} record {index}"
        try:
            log = prediction_log_class.FromString(record)
        except Exception:  # protobuf's DecodeError
            raise InvalidArgument(f"{where} is not a PredictionLog") from None
        try:
            result.extend(_calls(log, ref, where))
        except MooringsError as exc:
            raise InvalidArgument(f"{where}: {exc.message}") from None
    return result


@cache
def _prediction_log_class() -> Any:
    from moorings.protos.generated import MessageModule
    from moorings.protos.installed import MissingDescriptors, load_pool

    try:
        pool = load_pool(["tensorflow_serving.apis.prediction_log_pb2"])
    except MissingDescriptors:
        raise InvalidArgument(
            f"{FOLDER}/{FILE_NAME} is read with the messages of the tensorflow-serving-api package, "
            "which is not installed; pip install 'moorings[tensorflow]'"
        ) from None
    return MessageModule(pool, "tensorflow_serving/apis/prediction_log.proto").PredictionLog


def _calls(log: Any, ref: ModelRef, where: str) -> list[Call]:
    from moorings.grpc.tfserving import decode_inputs, examples_of

    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        predict = PredictRequest(
            ref,
            partial(decode_inputs, request),
            signature_name=request.model_spec.signature_name or None,
            outputs=tuple(request.output_filter) or None,
            outputs_field="output_filter",
            lift_trailing_ones=True,
        )
        return [predict_call(predict, where)]
    if kind in ("classify_log", "regress_log"):
        request = getattr(log, kind).request
        examples = ExamplesRequest(ref, examples_of(request.input), request.model_spec.signature_name or None)
        return [(classify_call if kind == "classify_log" else regress_call)(examples, where)]
    if kind == "multi_inference_log":
        request = log.multi_inference_log.request
        if not request.tasks:
            raise InvalidArgument("a MultiInference request needs at least one task")
        examples_list = examples_of(request.input)
        result = []
        for index, task in enumerate(request.tasks):
            task_request = ExamplesRequest(ref, examples_list, task.model_spec.signature_name or None)
            if task.method_name == CLASSIFY_METHOD:
                result.append(classify_call(task_request, f"{where} task {index}"))
            elif task.method_name == REGRESS_METHOD:
                result.append(regress_call(task_request, f"{where} task {index}"))
            else:
                raise InvalidArgument(f"task {index} has unsupported method_name {task.method_name!r}")
        return result
    raise InvalidArgument(
        f"holds a {kind or 'empty'} log; warm-up replays predict, classify, regress and multi_inference logs"
    )

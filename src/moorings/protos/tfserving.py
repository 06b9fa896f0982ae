"""TensorFlow Serving's gRPC messages and services, without importing TensorFlow.

The ``tensorflow_serving.apis`` generated modules import
``tensorflow.core.framework.*_pb2``, and importing anything inside the
``tensorflow`` package runs ``tensorflow/__init__.py``, which imports all of
TensorFlow. This module instead reads the serialized file descriptors out of
the *sources* of those installed modules (see :mod:`moorings.protos.installed`:
located from the top-level packages' paths, parsed with :mod:`ast`, never
executed), adds them to a private descriptor pool when this module is first
imported, and exposes objects under the generated modules' names:

- ``predict_pb2``, ``classification_pb2``, ``regression_pb2``,
  ``inference_pb2``, ``get_model_metadata_pb2``, ``get_model_status_pb2``,
  ``model_pb2``, ``input_pb2``: the message classes (``predict_pb2.PredictRequest``, …);
- ``prediction_service_pb2_grpc``, ``model_service_pb2_grpc``: the servicer
  bases and ``add_*Servicer_to_server`` functions.

The messages are wire-compatible with tensorflow-serving-api's (they are built
from the same descriptors) but are different Python classes.

The descriptors come from the installed ``tensorflow-serving-api`` and
``tensorflow`` distributions (their files, not their code). When either is
missing, importing this module raises
:class:`~moorings.protos.installed.MissingDescriptors` saying what to install.
"""

from __future__ import annotations

from typing import Any

from moorings.protos.generated import MessageModule, ServiceModule
from moorings.protos.installed import MissingDescriptors, load_pool

#: the generated modules whose descriptors (and everything they import) are loaded
ROOT_MODULES = (
    "tensorflow_serving.apis.prediction_service_pb2",
    "tensorflow_serving.apis.model_service_pb2",
)
_APIS = "tensorflow_serving/apis/"

try:
    pool = load_pool(ROOT_MODULES)
except MissingDescriptors as exc:
    raise MissingDescriptors(
        f"TF Serving's gRPC messages are read from the installed tensorflow-serving-api and tensorflow "
        f"packages (not imported), and {exc}; pip install 'moorings[tensorflow]' to serve this API"
    ) from None

classification_pb2 = MessageModule(pool, _APIS + "classification.proto")
get_model_metadata_pb2 = MessageModule(pool, _APIS + "get_model_metadata.proto")
get_model_status_pb2 = MessageModule(pool, _APIS + "get_model_status.proto")
inference_pb2 = MessageModule(pool, _APIS + "inference.proto")
input_pb2 = MessageModule(pool, _APIS + "input.proto")
model_pb2 = MessageModule(pool, _APIS + "model.proto")
predict_pb2 = MessageModule(pool, _APIS + "predict.proto")
regression_pb2 = MessageModule(pool, _APIS + "regression.proto")
# Any: their servicer classes are subclassed, and mypy takes a base class only from a type or Any
model_service_pb2_grpc: Any = ServiceModule(pool, _APIS + "model_service.proto")
prediction_service_pb2_grpc: Any = ServiceModule(pool, _APIS + "prediction_service.proto")

"""The value objects passed between components."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from moorings.dtypes import DType
from moorings.errors import InvalidArgument
from moorings.names import check_model_name, parse_version

DEFAULT_SIGNATURE = "serving_default"

#: named tensors, as every runtime takes and gives them
Tensors = dict[str, np.ndarray]
#: one tf.Example as a feature dict (feature name -> list of values)
Example = dict[str, Any]

PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


@dataclass(frozen=True)
class ServableId:
    """One version of one model."""

    name: str
    version: int


@dataclass(frozen=True)
class ModelRef:
    """What a request asks for: a model, and optionally a version or a label."""

    name: str
    version: int | None = None
    label: str | None = None


def parse_ref(name: str, version: str | None = None, label: str | None = None) -> ModelRef:
    """A ModelRef from URL parts, validating each."""
    check_model_name(name)
    if version is not None and label is not None:
        raise InvalidArgument("give a version or a label, not both")
    return ModelRef(name, parse_version(version) if version is not None else None, label)


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor: element type and shape; -1 marks a free dimension, None an unknown rank."""

    name: str
    dtype: DType
    shape: tuple[int, ...] | None
    tensor_name: str = ""

    def describe_shape(self) -> str:
        if self.shape is None:
            return "any shape"
        return "[" + ", ".join(str(d) for d in self.shape) + "]"


@dataclass(frozen=True)
class Signature:
    """A callable entry point of a model: named inputs to named outputs."""

    name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    method_name: str = PREDICT_METHOD


@dataclass(frozen=True)
class ClassifyResult:
    """Per example, the (label, score) pairs of a classifier."""

    labels: list[list[str]]
    scores: list[list[float]]
    #: False when ``labels`` are not the model's own class names (indices, or empty strings): then a
    #: version's class names, when it has them, replace them by position
    named: bool = True


@dataclass(frozen=True)
class ClassNames:
    """A version's class names (its ``labels.txt`` / ``labels.json``): name ``i`` is class index ``i``."""

    names: tuple[str, ...]
    #: the output whose values are ranked (model.toml ``[classes] output``); None: the only float
    #: output of rank 2 of the signature a request runs
    output: str | None = None


class VersionState(enum.Enum):
    """TensorFlow Serving's ModelVersionStatus.State."""

    START = 10
    LOADING = 20
    AVAILABLE = 30
    UNLOADING = 40
    END = 50


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: VersionState
    error: str | None = None


@dataclass(frozen=True)
class ModelStatus:
    name: str
    versions: list[VersionStatus] = field(default_factory=list)
    #: why the model's model.toml cannot be used (its versions stay as they were); None when it can
    config_error: str | None = None

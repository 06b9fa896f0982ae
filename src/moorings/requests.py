"""The typed requests the dataplane runs and the results it gives back (the bottom layer: types only).

Front ends build these from their wire formats and turn the results back into
wire formats; nothing here knows about HTTP or protobuf. Inputs stay in their
wire form until the request runs: ``decode`` gets the signature the request
resolved to (its dtypes and shapes) and returns the input tensors, so a codec
never needs to look a model up itself.

They are plain slotted dataclasses, not frozen ones: one is made per request, and a frozen
dataclass sets each field through ``object.__setattr__``; nothing changes them once made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from moorings.types import ClassifyResult, ClassNames, Example, ModelRef, ServableId, Signature, Tensors

#: wire inputs -> tensors, given the signature the request runs on
Decoder = Callable[[Signature], Tensors]
#: work on the wire inputs that must be awaited before ``decode`` (fetching inputs given by URL),
#: given the request's deadline
Prepare = Callable[[float | None], Awaitable[None]]


@dataclass(slots=True)
class PredictRequest:
    """Run one signature of one model version on decoded inputs."""

    ref: ModelRef
    decode: Decoder
    #: None: ``serving_default``
    signature_name: str | None = None
    #: the outputs to return, in order (None: every output of the signature)
    outputs: tuple[str, ...] | None = None
    #: the request field that named ``outputs``, for error messages ("output_filter", "outputs")
    outputs_field: str = "outputs"
    #: a ``time.monotonic()`` after which the request is not started
    deadline: float | None = None
    #: every input must have the same number of rows (TF Serving's row format)
    same_batch: bool = False
    #: TF Serving's leniency: inputs missing only trailing dimensions of size 1 of the signature
    #: get them, and the outputs lose as many (see dataplane/inputs.py)
    lift_trailing_ones: bool = False
    #: awaited once the signature is known, before ``decode`` (see :mod:`moorings.fetch.resolver`)
    prepare: Prepare | None = None


@dataclass(slots=True)
class PredictResult:
    servable: ServableId
    signature: Signature
    #: the requested outputs, in the order asked for
    outputs: Tensors
    #: the version's class names, for front ends that rank an output (top-k, classification)
    classes: ClassNames | None = None


@dataclass(slots=True)
class ExamplesRequest:
    """Classify or regress tf.Example feature dicts (TF Serving's :classify / :regress)."""

    ref: ModelRef
    examples: list[Example]
    #: None: the model's signature of that method (``serving_default`` when it is one)
    signature_name: str | None = None
    deadline: float | None = None


@dataclass(slots=True)
class ClassifyOutcome:
    servable: ServableId
    signature: Signature
    result: ClassifyResult


@dataclass(slots=True)
class RegressOutcome:
    servable: ServableId
    signature: Signature
    values: list[float]


@dataclass(slots=True)
class ModelMetadata:
    """What a metadata request answers: the version that would serve, and what it takes."""

    servable: ServableId
    #: the runtime's kind ("onnx", "tensorflow", "keras", "sklearn")
    runtime: str
    signatures: dict[str, Signature]
    #: every AVAILABLE version of the model, ascending
    available_versions: list[int]

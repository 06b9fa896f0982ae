"""KServe V2 model-level logic shared by its REST and gRPC front ends.

Version strings: ``""`` means the model's newest available version, digits a
version number, anything else a version label from ``model.toml`` (V2 has no
labels of its own; this makes ``/v2/models/m/versions/stable`` work).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from moorings import __version__
from moorings.codecs.tensor_proto import check_dtype
from moorings.codecs.v2_json import Named, select_outputs, v2_name
from moorings.dataplane import DataPlane
from moorings.types import ModelRef, ServableId, Signature, Tensors, TensorSpec, VersionState, parse_ref

#: the V2 ``platform`` of each runtime
PLATFORMS = {
    "onnx": "onnxruntime_onnx",
    "tensorflow": "tensorflow_savedmodel",
    "keras": "tensorflow_keras",
    "sklearn": "sklearn",
}
EXTENSIONS = ["binary_tensor_data"]


def server_metadata() -> dict[str, Any]:
    return {"name": "moorings", "version": __version__, "extensions": EXTENSIONS}


@lru_cache(maxsize=4096)
def model_ref(name: str, version: str = "") -> ModelRef:
    """Cached: a ref depends on the URL parts alone (bad ones raise, and are not cached)."""
    if not version:
        return parse_ref(name)
    if version.isdigit():
        return parse_ref(name, version=version)
    return parse_ref(name, label=version)


def tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    shape = [-1] if spec.shape is None else list(spec.shape)
    return {"name": spec.name, "datatype": spec.dtype.v2_name, "shape": shape}


def model_metadata(dataplane: DataPlane, ref: ModelRef) -> dict[str, Any]:
    """name, versions (those available), platform, inputs and outputs of the default signature."""
    with dataplane.acquire(ref) as servable:
        signature = servable.signature(None)
        kind = servable.runtime.kind
        name = servable.id.name
    available = [
        str(v.version) for v in dataplane.status(ModelRef(name)).versions if v.state is VersionState.AVAILABLE
    ]
    return {
        "name": name,
        "versions": sorted(available, key=int),
        "platform": PLATFORMS.get(kind, kind),
        "inputs": [tensor_metadata(s) for s in signature.inputs.values()],
        "outputs": [tensor_metadata(s) for s in signature.outputs.values()],
    }


def is_model_ready(dataplane: DataPlane, ref: ModelRef) -> bool:
    with dataplane.acquire(ref):
        return True


def cast_inputs(signature: Signature, inputs: Tensors) -> Tensors:
    """Each input as its signature's dtype (a cast within the same kind of number is allowed)."""
    specs = signature.inputs
    cast = None
    for name, array in inputs.items():
        spec = specs.get(name)
        if spec is None or array.dtype == spec.dtype.numpy:
            continue
        if cast is None:
            cast = dict(inputs)
        cast[name] = check_dtype(array, spec.dtype, f"input {name!r}", v2_name)
    return inputs if cast is None else cast


async def infer(
    dataplane: DataPlane,
    ref: ModelRef,
    decode: Callable[[], Tensors],
    requested_outputs: Sequence[Named] | None,
    deadline: float | None = None,
) -> tuple[ServableId, dict[str, np.ndarray]]:
    """Run the default signature on what ``decode`` builds; every output, or those requested."""
    with dataplane.acquire(ref) as servable:
        signature = servable.signature(None)
        wanted = None
        if requested_outputs is not None:
            wanted = select_outputs(requested_outputs, list(signature.outputs))
        inputs = cast_inputs(signature, decode())
        outputs = await dataplane.predict(servable, signature, inputs, deadline=deadline)
        servable_id = servable.id
    if wanted is not None:
        outputs = {name: outputs[name] for name in wanted}
    return servable_id, outputs

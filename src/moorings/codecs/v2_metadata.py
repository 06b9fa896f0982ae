"""KServe V2 names and metadata: version strings to ModelRefs, server and model metadata as JSON.

Version strings: ``""`` means the model's newest available version, digits a
version number, anything else a version label from ``model.toml`` (V2 has no
labels of its own; this makes ``/v2/models/m/versions/stable`` work).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from moorings import __version__
from moorings.errors import NotFound
from moorings.requests import ModelMetadata
from moorings.types import DEFAULT_SIGNATURE, ModelRef, TensorSpec, parse_ref

#: the V2 ``platform`` of each runtime
PLATFORMS = {
    "onnx": "onnxruntime_onnx",
    "tensorflow": "tensorflow_savedmodel",
    "keras": "tensorflow_keras",
    "sklearn": "sklearn",
}
EXTENSIONS = ["binary_tensor_data", "classification"]


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


def model_metadata(meta: ModelMetadata) -> dict[str, Any]:
    """name, versions (those available), platform, inputs and outputs of the default signature."""
    signature = meta.signatures.get(DEFAULT_SIGNATURE)
    if signature is None:
        known = ", ".join(sorted(meta.signatures)) or "none"
        raise NotFound(
            f"model {meta.servable.name!r} version {meta.servable.version} has no signature "
            f"{DEFAULT_SIGNATURE!r} (signatures: {known})"
        )
    return {
        "name": meta.servable.name,
        "versions": [str(v) for v in meta.available_versions],
        "platform": PLATFORMS.get(meta.runtime, meta.runtime),
        "inputs": [tensor_metadata(s) for s in signature.inputs.values()],
        "outputs": [tensor_metadata(s) for s in signature.outputs.values()],
    }

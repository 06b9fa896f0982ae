"""TensorFlow Serving's JSON for model status and model metadata (proto3 JSON mapping)."""

from __future__ import annotations

from typing import Any

from moorings.types import ModelStatus, ServableId, Signature, TensorSpec


def status_json(status: ModelStatus) -> dict[str, Any]:
    """The status body; ``model_config_error`` (Moorings' own field) only while model.toml is unusable."""
    body: dict[str, Any] = {
        "model_version_status": [
            {
                "version": str(v.version),
                "state": v.state.name,
                "status": {
                    "error_code": "UNKNOWN" if v.error else "OK",
                    "error_message": v.error or "",
                },
            }
            for v in status.versions
        ]
    }
    if status.config_error is not None:
        body["model_config_error"] = status.config_error
    return body


def models_json(statuses: list[ModelStatus]) -> dict[str, Any]:
    """``GET /v1/models``: every model the server tracks, with its versions' states."""
    return {"models": [{"name": s.name, **status_json(s)} for s in statuses]}


def _tensor_info(spec: TensorSpec) -> dict[str, Any]:
    shape: dict[str, Any]
    if spec.shape is None:
        shape = {"dim": [], "unknown_rank": True}
    else:
        shape = {"dim": [{"size": str(d), "name": ""} for d in spec.shape], "unknown_rank": False}
    return {"dtype": spec.dtype.tf_name, "tensor_shape": shape, "name": spec.tensor_name or spec.name}


def signature_def_json(signature: Signature) -> dict[str, Any]:
    return {
        "inputs": {k: _tensor_info(v) for k, v in signature.inputs.items()},
        "outputs": {k: _tensor_info(v) for k, v in signature.outputs.items()},
        "method_name": signature.method_name,
        "defaults": {},
    }


def metadata_json(servable_id: ServableId, signatures: dict[str, Signature]) -> dict[str, Any]:
    return {
        "model_spec": {
            "name": servable_id.name,
            "signature_name": "",
            "version": str(servable_id.version),
        },
        "metadata": {
            "signature_def": {
                "signature_def": {k: signature_def_json(v) for k, v in sorted(signatures.items())}
            }
        },
    }

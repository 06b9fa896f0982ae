"""Request bodies for every protocol, one file each, under benchmarks/.work/bodies (deterministic)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BODIES = Path(__file__).resolve().parent / ".work" / "bodies"


def mlp_row(seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(float(v), 4) for v in rng.random(784)]


def image(seed: int = 2) -> list[list[list[float]]]:
    rng = np.random.default_rng(seed)
    values: list[list[list[float]]] = np.round(rng.random((224, 224, 3)), 2).tolist()
    return values


def write_all() -> dict[str, Path]:
    BODIES.mkdir(parents=True, exist_ok=True)
    row = mlp_row()
    img = image()
    bodies = {
        "mlp-rows": {"instances": [row]},
        "mlp-columns": {"inputs": {"x": [row]}},
        "mlp-v2": {"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32", "data": row}]},
        "mlp-peer": {"x": [row]},
        "effnet-rows": {"instances": [img]},
        "effnet-v2": {
            "inputs": [{"name": "images", "shape": [1, 224, 224, 3], "datatype": "FP32", "data": img}]
        },
        "effnet-peer": {"x": [img]},
    }
    paths = {}
    for name, body in bodies.items():
        path = BODIES / f"{name}.json"
        if not path.exists():
            path.write_bytes(json.dumps(body, separators=(",", ":")).encode())
        paths[name] = path
    paths.update(_binary_v2("mlp-v2-binary", "x", np.array([row], dtype=np.float32)))
    paths.update(_binary_v2("effnet-v2-binary", "images", np.array([img], dtype=np.float32)))
    return paths


def _binary_v2(name: str, input_name: str, array: np.ndarray) -> dict[str, Path]:
    """KServe V2 binary tensor extension: JSON header, then the raw little-endian bytes."""
    header = {
        "inputs": [
            {
                "name": input_name,
                "shape": list(array.shape),
                "datatype": "FP32",
                "parameters": {"binary_data_size": array.nbytes},
            }
        ]
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    path = BODIES / f"{name}.bin"
    path.write_bytes(head + array.astype("<f4").tobytes())
    (BODIES / f"{name}.header-length").write_text(str(len(head)))
    return {name: path}


if __name__ == "__main__":
    for k, v in write_all().items():
        print(k, v.stat().st_size)

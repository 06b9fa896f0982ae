"""Request bodies for every protocol, one file each, under benchmarks/.work/bodies (deterministic).

The MLP's 784 values come in three spellings, because the cost of reading a
JSON body depends on how its numbers are written:

- ``mlp-rows``, ``mlp-columns``, ``mlp-v2``, ``mlp-peer`` (the headline rows):
  what a client sends when it does what the TF Serving and Triton examples do,
  ``json.dumps({"instances": x.astype(np.float32).tolist()})``: up to 17
  significant digits per value (``0.5117999911308289``), json.dumps' spacing;
- the same names with ``-f64``: a float64 array's ``tolist()``, the same way;
- the same names with ``-4dp``: the values rounded to 4 decimal places
  (``0.5118``), compact: the suite's body before the float32 ones, kept as a
  secondary row.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BODIES = Path(__file__).resolve().parent / ".work" / "bodies"


def mlp_values(seed: int = 1) -> np.ndarray:
    """The MLP's one input row (784 values in [0, 1)), as float64."""
    return np.random.default_rng(seed).random(784)


def mlp_row(seed: int = 1) -> list[float]:
    """The row rounded to 4 decimal places (the ``-4dp`` bodies)."""
    return [round(float(v), 4) for v in mlp_values(seed)]


def mlp_bodies(suffix: str, row: list[float]) -> dict[str, object]:
    """The MLP's body for every protocol and peer, for one spelling of the row."""
    return {
        f"mlp-rows{suffix}": {"instances": [row]},
        f"mlp-columns{suffix}": {"inputs": {"x": [row]}},
        f"mlp-v2{suffix}": {"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32", "data": row}]},
        f"mlp-peer{suffix}": {"x": [row]},
    }


def image(seed: int = 2) -> list[list[list[float]]]:
    rng = np.random.default_rng(seed)
    values: list[list[list[float]]] = np.round(rng.random((224, 224, 3)), 2).tolist()
    return values


def write_all() -> dict[str, Path]:
    BODIES.mkdir(parents=True, exist_ok=True)
    values = mlp_values()
    img = image()
    as_clients_write = {  # json.dumps as a client calls it, spacing included
        **mlp_bodies("", values.astype(np.float32).tolist()),
        **mlp_bodies("-f64", values.tolist()),
    }
    bodies = {
        **mlp_bodies("-4dp", mlp_row()),
        "effnet-rows": {"instances": [img]},
        "effnet-v2": {
            "inputs": [{"name": "images", "shape": [1, 224, 224, 3], "datatype": "FP32", "data": img}]
        },
        "effnet-peer": {"x": [img]},
    }
    texts = {name: json.dumps(body) for name, body in as_clients_write.items()}
    texts.update((name, json.dumps(body, separators=(",", ":"))) for name, body in bodies.items())
    paths = {}
    for name, text in texts.items():
        path = BODIES / f"{name}.json"
        if not path.exists() or path.read_bytes() != text.encode():  # a body from an older suite
            path.write_bytes(text.encode())
        paths[name] = path
    paths.update(_binary_v2("mlp-v2-binary", "x", np.array([values], dtype=np.float32)))
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

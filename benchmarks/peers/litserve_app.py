"""LitServe serving the same ONNX model.

    MODEL=path/model.onnx PORT=8000 python benchmarks/peers/litserve_app.py
POST /predict {"x": [[...], ...]} -> {"y": [[...], ...]}
"""

from __future__ import annotations

import os
from typing import Any

import litserve as ls
import numpy as np
import onnxruntime as ort


class OnnxApi(ls.LitAPI):  # type: ignore[misc]
    def setup(self, device: Any) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("THREADS", "1"))
        self.session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def decode_request(self, request):  # type: ignore[no-untyped-def]  # LitServe reads the annotation
        return np.asarray(request["x"], dtype=np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]

    def encode_response(self, output: np.ndarray) -> dict[str, Any]:
        return {"y": output.tolist()}


if __name__ == "__main__":
    server = ls.LitServer(OnnxApi(), accelerator="cpu", workers_per_device=1, timeout=60)
    server.run(
        host="127.0.0.1", port=int(os.environ["PORT"]), generate_client_file=False, log_level="warning"
    )

"""The MLP as a Python model: a model.py whose predict runs the same model.onnx in ONNX Runtime.

What a user writes to wrap an ONNX file in code of their own, compared in ``run.py --only
mlp-python`` with the same file served by the ONNX runtime (the session is set up as
``moorings.runtimes.onnx`` sets up its own, so the difference is the Python model's path).
"""

from __future__ import annotations

import shutil
from pathlib import Path

MODEL_PY = """
import os

import onnxruntime as ort


class Mlp:
    inputs = {"x": {"dtype": "float32", "shape": [-1, 784]}}
    outputs = {"y": {"dtype": "float32", "shape": [-1, 10]}}

    def setup(self, version_dir):
        options = ort.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(version_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def predict(self, batch):
        (y,) = self.session.run(["y"], {"x": batch["x"]})
        return {"y": y}
"""


def write(folder: Path, onnx_file: Path) -> None:
    """``folder/model.py`` and a copy of ``onnx_file`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_file, folder / "model.onnx")
    (folder / "model.py").write_text(MODEL_PY)

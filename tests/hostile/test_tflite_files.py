"""Damaged ``.tflite`` files fail their load with a message and never take the server down.

LiteRT checks a file's flatbuffer structure, not everything inside it: the one-byte change
below passes that check and then crashes the process that allocates the model's tensors.
The runtime's trial load in a separate process turns that into a LoadError.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError

pytest.importorskip("ai_edge_litert.interpreter")
from moorings.runtimes.tflite import TfliteRuntime

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tflite" / "two_heads.tflite"
#: (offset, value): a change to the fixture that crashes LiteRT in allocate_tensors()
CRASHING_BYTE = (4463, 65)
#: a change that gives the input ``features`` the shape [-24833, 4] and passes LiteRT's checks
NEGATIVE_SHAPE_BYTE = (4237, 158)

ALLOCATE = """
import sys
from ai_edge_litert.interpreter import Interpreter
Interpreter(model_content=sys.stdin.buffer.read(), num_threads=1).allocate_tensors()
"""


def damaged(offset: int, value: int) -> bytes:
    data = bytearray(FIXTURE.read_bytes())
    data[offset] = value
    return bytes(data)


def test_a_file_that_crashes_litert_is_a_load_error(tmp_path: Path) -> None:
    model = damaged(*CRASHING_BYTE)
    alone = subprocess.run([sys.executable, "-c", ALLOCATE], input=model, capture_output=True, check=False)
    assert alone.returncode < 0, "the fixture changed: find a byte change that crashes LiteRT again"
    (tmp_path / "model.tflite").write_bytes(model)
    with pytest.raises(LoadError, match=r"crashed LiteRT \(SIG\w+\) in a trial load"):
        TfliteRuntime(tmp_path, RuntimeOptions()).load()


def test_a_damaged_shape_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "model.tflite").write_bytes(damaged(*NEGATIVE_SHAPE_BYTE))
    with pytest.raises(LoadError, match=r"tensor 'features' declares the shape \[-\d+, 4\]"):
        TfliteRuntime(tmp_path, RuntimeOptions()).load()


def test_single_byte_changes_load_or_fail_cleanly(tmp_path: Path) -> None:
    rng = np.random.default_rng(2026)
    size = len(FIXTURE.read_bytes())
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(24):
        (tmp_path / "model.tflite").write_bytes(
            damaged(int(rng.integers(8, size)), int(rng.integers(0, 256)))
        )
        runtime = TfliteRuntime(tmp_path, RuntimeOptions())
        try:
            runtime.load()
        except LoadError as exc:
            assert str(tmp_path) not in exc.message
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        for signature in runtime.signatures.values():
            feeds = {
                name: np.zeros([2 if d < 0 else d for d in spec.shape or ()], spec.dtype.numpy)
                for name, spec in signature.inputs.items()
            }
            with contextlib.suppress(InvalidArgument):  # a changed shape may refuse these feeds
                runtime.predict(signature, feeds)
    assert outcomes["refused"] > 0

"""Python models (model.py files) for the tests: each writes a version folder."""

from __future__ import annotations

from pathlib import Path


def write(folder: Path, source: str, toml: str | None = None) -> Path:
    """``folder/model.py`` holding ``source`` (and ``../model.toml`` holding ``toml``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(source)
    if toml is not None:
        (folder.parent / "model.toml").write_text(toml)
    return folder


def scaler(factor: float) -> str:
    """``x[-1, 2] -> y = x * factor``, and ``rows``: how many rows the predict call that served
    each row had (so a client sees its request batched with others); negative x raises."""
    return f"""
import time

import numpy as np

FACTOR = {factor!r}


class Scaler:
    inputs = {{"x": {{"dtype": "float32", "shape": [-1, 2]}}}}
    outputs = {{"y": {{"dtype": "float32", "shape": [-1, 2]}}, "rows": {{"dtype": "int64", "shape": [-1]}}}}

    def setup(self, version_dir):
        self.version = version_dir.name

    def predict(self, batch):
        x = batch["x"]
        if (x < 0).any():
            raise ZeroDivisionError("negative input\\nsecond line that must not show /etc/passwd")
        time.sleep(0.02)  # long enough for concurrent requests to queue behind a running call
        return {{"y": x * FACTOR, "rows": np.full(len(x), len(x))}}
"""


def counter(flag: Path, steps: int | None = None, pause: float = 0.05) -> str:
    """A streaming model: ``n[-1] int64 -> count[-1] int64``, yielding n, n+1, ... (``steps`` of
    them, or until closed), ``pause`` s apart; its ``finally`` writes ``flag``."""
    limit = "itertools.count()" if steps is None else f"range({steps})"
    return f"""
import itertools
import time
from pathlib import Path

import numpy as np


class Counter:
    inputs = {{"n": {{"dtype": "int64", "shape": [-1]}}}}
    outputs = {{"count": {{"dtype": "int64", "shape": [-1]}}}}

    def predict(self, batch):
        return {{"count": batch["n"]}}

    def stream(self, inputs):
        try:
            for i in {limit}:
                time.sleep({pause!r})
                yield {{"count": inputs["n"] + i}}
        finally:
            Path({str(flag)!r}).write_text("closed")
"""

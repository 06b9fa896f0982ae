"""Small scikit-learn models trained on bundled data, saved with skops or joblib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def iris_classifier() -> tuple[Any, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    return model, x


def diabetes_regressor() -> tuple[Any, np.ndarray]:
    x, y = load_diabetes(return_X_y=True)
    return Ridge().fit(x, y), x


def write_skops(model: Any, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sio.dump(model, folder / "model.skops")


def write_joblib(model: Any, folder: Path) -> None:
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")

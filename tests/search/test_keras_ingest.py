"""A trained recommender's item vectors become a collection in one command (Keras Embedding layer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow


def test_ingest_a_keras_embedding_layer(tmp_path: Path) -> None:
    import keras

    items = keras.Input((1,), dtype="int32", name="item")
    vectors = keras.layers.Embedding(40, 6, name="item_embedding")(items)
    users = keras.Input((1,), dtype="int32", name="user")
    user_vectors = keras.layers.Embedding(10, 6, name="user_embedding")(users)
    score = keras.layers.Dot(axes=2)([vectors, user_vectors])
    model = keras.Model([items, users], keras.layers.Flatten()(score))
    model.save(tmp_path / "recommender.keras")
    weights = model.get_layer("item_embedding").get_weights()[0]
    (tmp_path / "names.txt").write_text("\n".join(f"film {i}" for i in range(40)) + "\n")

    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    base = [sys.executable, "-m", "moorings", "collection", "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(
        [*base, "ingest", "films", str(tmp_path / "recommender.keras"), "--layer", "item_embedding",
         "--names", str(tmp_path / "names.txt"), "--create", "--metric", "ip", "--batch-size", "16"],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ingested"] == 40 and report["collection"]["dim"] == 6
    assert "films [" in result.stderr  # the progress bar

    ambiguous = subprocess.run(
        [*base, "ingest", "other", str(tmp_path / "recommender.keras"), "--create"],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert ambiguous.returncode == 2 and "item_embedding, user_embedding" in ambiguous.stderr

    found = subprocess.run(
        [*base, "search", "films", "--like", "FILM 7", "-k", "3"], capture_output=True, text=True, env=env
    )
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    expected = np.argsort(-(weights @ weights[7]))
    expected = [str(i) for i in expected if i != 7][:3]
    assert answer["matched"]["id"] == "7" and [h["id"] for h in answer["hits"]] == expected

"""Shared fixtures: model repositories built from small real models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

#: fixtures shared by modules in several folders (``repo``, ``manager``)
pytest_plugins = ["tests.support.managed"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def tf_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of TensorFlow/Keras version folders, built once per test session (TF is slow to import)."""
    from tests.support import tf_models as tfm

    root = tmp_path_factory.mktemp("tf-models")
    model = tfm.keras_mlp(seed=1)
    tfm.write_keras_savedmodel(model, root / "keras_savedmodel")
    tfm.write_keras_file(model, root / "keras_file")
    tfm.write_text_savedmodel(root / "text")
    tfm.write_example_savedmodel(root / "examples")
    tfm.write_tf2_example_savedmodel(root / "examples_tf2")
    tfm.write_image_savedmodel(root / "image")
    return root


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL 18 (pgvector, cube, pg_trgm) on a Unix socket under /tmp, for the session."""
    from tests.support.postgres import embedded_postgres

    with embedded_postgres() as url:
        yield url

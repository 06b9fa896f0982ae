"""Fixtures for search tests: an embedded backend on a temporary data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorings.search.faiss_store import FaissBackend
from moorings.search.service import Collections


@pytest.fixture
def faiss_backend(tmp_path: Path) -> Iterator[FaissBackend]:
    backend = FaissBackend(tmp_path / "data")
    yield backend
    backend.close()


@pytest.fixture
def embedded(faiss_backend: FaissBackend) -> Collections:
    return Collections(faiss_backend)

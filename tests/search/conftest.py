"""Fixtures for search tests: an embedded backend on a temporary data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorings.search.faiss_store import FaissBackend
from moorings.search.json_api import JsonCollections
from moorings.search.service import Collections


@pytest.fixture
def faiss_backend(tmp_path: Path) -> Iterator[FaissBackend]:
    backend = FaissBackend(tmp_path / "data")
    yield backend
    backend.close()


@pytest.fixture
def typed(faiss_backend: FaissBackend) -> Collections:
    return Collections(faiss_backend)


@pytest.fixture
def embedded(typed: Collections) -> JsonCollections:
    """The JSON API over the typed service: what the REST routes and the CLI run."""
    return JsonCollections(typed)

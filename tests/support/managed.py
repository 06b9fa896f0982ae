"""A Manager over a test's own repository folder: fixtures and a helper several test modules share.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``); a module that needs
other contents defines its own ``repo`` fixture, which ``manager`` then uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.repository.source import LocalSource


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository folder."""
    root = tmp_path / "repo"
    root.mkdir()
    return root


@pytest.fixture
def manager(repo: Path) -> Iterator[Manager]:
    """A manager of ``repo`` that has not scanned it yet (call :func:`poll`)."""
    m = Manager(LocalSource(repo), Loader(repo))
    yield m
    m.stop()


def poll(m: Manager) -> None:
    """Scan the repository once and wait until every load and unload it started has finished."""
    m.poll_once()
    assert m.wait_until_idle(30)

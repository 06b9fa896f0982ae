"""Pick and open the search backend from the server's settings."""

from __future__ import annotations

import threading
from pathlib import Path

from moorings.errors import InvalidArgument
from moorings.search.errors import StoreClosed
from moorings.search.service import Collections
from moorings.search.store import Backend, Store
from moorings.search.types import CollectionSpec

BACKEND_CHOICES = ("auto", "pgvector", "cube")


def open_backend(store: str, data_dir: Path, backend: str = "auto") -> Backend:
    """``store``: "embedded" (FAISS under ``data_dir``) or a ``postgresql://`` URL; ``backend``
    forces pgvector or cube on PostgreSQL (auto: pgvector when the database has it, else cube)."""
    if backend not in BACKEND_CHOICES:
        raise InvalidArgument(f"search backend must be one of {', '.join(BACKEND_CHOICES)}, got {backend!r}")
    if store == "embedded":
        return LazyFaissBackend(data_dir)
    if store.startswith(("postgresql://", "postgres://")):
        from moorings.search.postgres import open_postgres

        return open_postgres(store, backend)
    raise InvalidArgument("the search store is 'embedded' or a postgresql:// URL")


def open_collections(
    store: str = "embedded", data_dir: Path = Path("moorings-data"), backend: str = "auto"
) -> Collections:
    return Collections(open_backend(store, data_dir, backend))


class LazyFaissBackend:
    """The embedded backend, opened (folder created, lock taken) on the first collection call, so a
    server that never uses search leaves no folder behind and holds no lock."""

    name = "faiss"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._backend: Backend | None = None
        self._guard = threading.Lock()
        self._closed = False
        self._url: str | None = None

    def advertise(self, url: str | None) -> None:
        """The REST address to write into the folder's lock file while this process holds it
        (now, or when the first collection call takes the lock)."""
        with self._guard:
            self._url = url
            if self._backend is not None:
                self._backend.advertise(url)

    def _get(self) -> Backend:
        with self._guard:
            if self._closed:
                raise StoreClosed
            if self._backend is None:
                from moorings.search.faiss_store import FaissBackend

                backend = FaissBackend(self.data_dir)
                backend.advertise(self._url)
                self._backend = backend
            return self._backend

    def specs(self) -> list[CollectionSpec]:
        if self._backend is None and not (self.data_dir / "collections").is_dir():
            return []  # nothing was ever stored: no need to create the folder and take its lock
        return self._get().specs()

    def create(self, spec: CollectionSpec) -> Store:
        return self._get().create(spec)

    def open(self, name: str) -> Store:
        return self._get().open(name)

    def drop(self, name: str) -> None:
        self._get().drop(name)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            if self._backend is not None:
                self._backend.close()
                self._backend = None

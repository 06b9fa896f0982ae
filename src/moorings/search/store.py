"""The protocols every backend implements: a Backend holds collections, a Store is one collection.

Vectors arrive validated (finite float32 of the right dimension, unit length for cosine).
Scores returned by ``search`` follow one convention: higher is nearer (inner product; for l2
the negated squared distance).
"""

from __future__ import annotations

from typing import Protocol

from moorings.search.filters import Filter
from moorings.search.types import CollectionSpec, Hits, Item, ItemBatch, Vectors


class Store(Protocol):
    spec: CollectionSpec

    def count(self) -> int: ...

    def upsert(self, batch: ItemBatch) -> None:
        """Insert or replace the batch's items, all or nothing (one commit per batch)."""

    def delete(self, ids: list[str]) -> int:
        """Remove items; return how many existed."""

    def get(self, item_id: str) -> Item | None: ...

    def find_name(self, text: str) -> Item | None:
        """The item whose name best matches ``text`` (case-insensitive, partial), or None."""

    def search(self, queries: Vectors, k: int, flt: Filter | None) -> list[Hits]:
        """The k nearest items (with name and metadata) for each query row, nearest first."""

    def checksum(self) -> str:
        """A digest of the logical content (ids, vectors, names, metadata), independent of history."""

    def describe(self) -> dict[str, object]:
        """Backend-specific facts for the describe API (index kind, size)."""

    def close(self) -> None: ...


class Backend(Protocol):
    name: str

    def specs(self) -> list[CollectionSpec]: ...

    def create(self, spec: CollectionSpec) -> Store:
        """Create a collection; raise FailedPrecondition (409) if it exists."""

    def open(self, name: str) -> Store:
        """An existing collection; raise NotFound if there is none."""

    def drop(self, name: str) -> None: ...

    def advertise(self, url: str | None) -> None:
        """Where this process serves the collections over REST (the embedded store writes it into
        its folder's lock file, for ``moorings collection``); a shared database ignores it."""

    def close(self) -> None: ...

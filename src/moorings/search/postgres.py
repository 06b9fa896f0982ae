"""PostgreSQL: connect with a pool, find the extensions, pick pgvector (else cube), hold collections.

Schema ``moorings``: table ``collections`` (one row per collection: spec, store kind, the cube
store's projection) and one items table per collection, named ``items_<number>``. Every value
travels as a bound parameter; identifiers are built with :mod:`psycopg.sql`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from moorings.errors import InvalidArgument, NotFound, Unavailable
from moorings.search.errors import AlreadyExists
from moorings.search.names import check_collection_name
from moorings.search.pg_names import SCHEMA, items_table
from moorings.search.types import CollectionSpec

log = logging.getLogger(__name__)

POOL_MAX = 8


def _try_extension(conn: psycopg.Connection[Any], name: str) -> bool:
    """CREATE EXTENSION IF NOT EXISTS (needs the privilege); report whether it is installed now."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        log.info("extension %s not available: %s", name, str(exc).strip())
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [name]).fetchone()
    return row is not None


class PostgresBackend:
    """Collections in one PostgreSQL database."""

    def __init__(self, url: str, backend: str = "auto") -> None:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                self.extensions = {name: _try_extension(conn, name) for name in ("vector", "cube", "pg_trgm")}
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS moorings.collections ("
                    " number serial PRIMARY KEY, name text UNIQUE NOT NULL, spec jsonb NOT NULL,"
                    " store text NOT NULL, projection bytea, fit_rows bigint NOT NULL DEFAULT 0)"
                )
        except psycopg.OperationalError as exc:
            raise Unavailable(f"cannot connect to the search database: {str(exc).strip()[:300]}") from None
        if backend == "auto":
            backend = "pgvector" if self.extensions["vector"] else "cube"
        wanted = {"pgvector": "vector", "cube": "cube"}[backend]
        if not self.extensions[wanted]:
            raise Unavailable(f"the database has no {wanted!r} extension (and it could not be created)")
        self.kind = backend
        self.name = backend
        vector = self.extensions["vector"]

        def configure(conn: psycopg.Connection[Any]) -> None:
            if vector:
                from pgvector.psycopg import register_vector

                register_vector(conn)
            conn.commit()

        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, min_size=1, max_size=POOL_MAX, configure=configure, open=True
        )
        self.pool.wait(timeout=30)
        self._stores: dict[str, Any] = {}
        self._guard = threading.Lock()

    def specs(self) -> list[CollectionSpec]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT spec FROM moorings.collections ORDER BY name").fetchall()
        return [CollectionSpec.from_json(r[0]) for r in rows]

    def _make(self, kind: str, spec: CollectionSpec, number: int) -> Any:
        if kind == "pgvector":
            from moorings.search.pgvector_store import PgvectorStore

            return PgvectorStore(self.pool, spec, number, trigram=self.extensions["pg_trgm"])
        from moorings.search.cube_store import CubeStore

        return CubeStore(self.pool, spec, number, trigram=self.extensions["pg_trgm"])

    def create(self, spec: CollectionSpec) -> Any:
        check_collection_name(spec.name)
        if self.kind == "cube" and spec.metric == "ip":
            raise InvalidArgument("the cube backend orders by Euclidean distance: use metric cosine or l2")
        with self._guard, self.pool.connection() as conn, conn.transaction():
            try:
                row = conn.execute(
                    "INSERT INTO moorings.collections (name, spec, store)"
                    " VALUES (%s, %s, %s) RETURNING number",
                    [spec.name, orjson.dumps(spec.to_json()).decode(), self.kind],
                ).fetchone()
            except psycopg.errors.UniqueViolation:
                raise AlreadyExists(f"collection {spec.name!r} already exists") from None
            assert row is not None
            store = self._make(self.kind, spec, int(row[0]))
            store.create_table(conn)
        self._stores[spec.name] = store
        return store

    def open(self, name: str) -> Any:
        check_collection_name(name)
        with self._guard:
            store = self._stores.get(name)
            if store is not None:
                return store
            with self.pool.connection() as conn:
                row = conn.execute(
                    "SELECT number, spec, store FROM moorings.collections WHERE name = %s", [name]
                ).fetchone()
            if row is None:
                raise NotFound(f"no collection named {name!r}")
            store = self._make(row[2], CollectionSpec.from_json(row[1]), int(row[0]))
            self._stores[name] = store
            return store

    def drop(self, name: str) -> None:
        check_collection_name(name)
        with self._guard, self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "DELETE FROM moorings.collections WHERE name = %s RETURNING number", [name]
            ).fetchone()
            if row is None:
                raise NotFound(f"no collection named {name!r}")
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(items_table(int(row[0]))))
            self._stores.pop(name, None)

    def advertise(self, url: str | None) -> None:
        """Nothing to do: every process reaches the database itself."""

    def close(self) -> None:
        self.pool.close()


def open_postgres(url: str, backend: str = "auto") -> PostgresBackend:
    return PostgresBackend(url, backend)

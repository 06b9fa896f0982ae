"""The cube store, for a PostgreSQL where pgvector cannot be installed.

Each row keeps its full float32 vector (``bytea``) and a ``cube`` of at most 100 coordinates with
a GiST index; a query orders by the GiST KNN operator ``<->`` (Euclidean) and the candidates are
re-ranked exactly on the full vectors. Vectors wider than 100 dimensions (or a collection with
``reduce_to``) are indexed through a truncated SVD fitted on the collection, stored with it in
``moorings.collections`` and refitted when the collection has grown fourfold.

Cost: at ~100 dimensions a GiST KNN scan reads about the whole index, so this is a fallback that
keeps search inside the database, not a fast ANN index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from moorings.search import reduce
from moorings.search.filters import Filter
from moorings.search.pg_common import COMMON_COLUMNS, PgStoreBase, db_errors, where_clause
from moorings.search.types import Hit, Hits, ItemBatch, Vectors

CUBE_MAX_DIM = 100
DEFAULT_REDUCED = 64
RERANK_FACTOR = 20
MIN_CANDIDATES = 200
REFIT_GROWTH = 4
REFIT_MAX_ROWS = 200_000


class CubeStore(PgStoreBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vector_sql = sql.SQL("vec")
        wanted = self.spec.reduce_to or (DEFAULT_REDUCED if self.spec.dim > CUBE_MAX_DIM else None)
        self.reduced_dim = None if wanted is None else min(wanted, CUBE_MAX_DIM)
        self.projection: reduce.Projection | None = None
        self.fit_rows = 0
        if self.reduced_dim is not None:
            with self.pool.connection() as conn:
                self._load_projection(conn)

    def _load_projection(self, conn: psycopg.Connection[Any]) -> None:
        """Follow a refit by any process: re-read the projection when its ``fit_rows`` moved."""
        if self.reduced_dim is None:
            return
        query = "SELECT fit_rows FROM moorings.collections WHERE number = %s"
        row = conn.execute(query, [self.number]).fetchone()
        if not row or row[0] is None or (self.projection is not None and int(row[0]) == self.fit_rows):
            return
        query = "SELECT projection, fit_rows FROM moorings.collections WHERE number = %s"
        row = conn.execute(query, [self.number]).fetchone()
        if row and row[0] is not None:
            self.projection = reduce.Projection.from_bytes(bytes(row[0]), self.spec.dim)
            self.fit_rows = int(row[1])

    def create_table(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            sql.SQL("CREATE TABLE {} (" + COMMON_COLUMNS + ", vec bytea NOT NULL, emb cube NOT NULL)").format(
                self.table
            )
        )
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gist (emb)").format(
                sql.Identifier(f"items_{self.number}_gist"), self.table
            )
        )
        conn.execute(self.name_index_sql())

    def decode_vector(self, value: Any) -> Vectors:
        return np.frombuffer(bytes(value), dtype=np.float32).copy()

    def _coords(self, vectors: Vectors) -> list[list[float]]:
        reduced = vectors if self.projection is None else self.projection.apply(vectors)
        return [[float(x) for x in row] for row in reduced.astype(np.float64)]

    def _refit(self, conn: psycopg.Connection[Any], extra: Vectors) -> None:
        """Fit the projection on the stored vectors plus the new batch; re-project every row."""
        assert self.reduced_dim is not None
        rows = conn.execute(sql.SQL("SELECT id, vec FROM {}").format(self.table)).fetchall()
        stored = np.stack([self.decode_vector(r[1]) for r in rows]) if rows else extra[:0]
        self.projection = reduce.fit(np.concatenate([stored, extra]), self.reduced_dim)
        self.fit_rows = len(stored) + len(extra)
        conn.execute(
            "UPDATE moorings.collections SET projection = %s, fit_rows = %s WHERE number = %s",
            [self.projection.to_bytes(), self.fit_rows, self.number],
        )
        if rows:
            with conn.cursor() as cur:
                cur.executemany(
                    sql.SQL("UPDATE {} SET emb = cube(%s::float8[]) WHERE id = %s").format(self.table),
                    [(c, r[0]) for c, r in zip(self._coords(stored), rows, strict=True)],
                )

    @db_errors
    def upsert(self, batch: ItemBatch) -> None:
        query = sql.SQL(
            "INSERT INTO {} (id, name, metadata, vec, emb) VALUES (%s, %s, %s, %s, cube(%s::float8[]))"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, metadata = EXCLUDED.metadata,"
            " vec = EXCLUDED.vec, emb = EXCLUDED.emb"
        ).format(self.table)
        with self.pool.connection() as conn, conn.transaction():
            if self.reduced_dim is not None:
                # one writer at a time refits, so concurrent batches never mix two projections
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [self.number])
                self._load_projection(conn)
                count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.table)).fetchone()
                total = (int(count[0]) if count else 0) + len(batch)
                grown = total >= REFIT_GROWTH * max(self.fit_rows, 1) and self.fit_rows < REFIT_MAX_ROWS
                if self.projection is None or grown:
                    self._refit(conn, batch.vectors)
            dumps = lambda v: orjson.dumps(v).decode()  # noqa: E731
            rows = [
                (i, n, None if m is None else Jsonb(m, dumps=dumps), v.tobytes(), c)
                for i, n, m, v, c in zip(
                    batch.ids,
                    batch.names,
                    batch.metadata,
                    batch.vectors,
                    self._coords(batch.vectors),
                    strict=True,
                )
            ]
            with conn.cursor() as cur:
                cur.executemany(query, rows)

    @db_errors
    def search(self, queries: Vectors, k: int, flt: Filter | None) -> list[Hits]:
        where, params = where_clause(flt)
        exact = self.projection is None and self.reduced_dim is None
        fetch = k if exact else max(k * RERANK_FACTOR, MIN_CANDIDATES)
        query = sql.SQL(
            "SELECT id, name, metadata, vec FROM {} {} ORDER BY emb <-> cube(%s::float8[]) LIMIT %s"
        ).format(self.table, where)
        out: list[Hits] = []
        with self.pool.connection() as conn:
            if not exact:
                self._load_projection(conn)
            for q, coords in zip(queries, self._coords(queries), strict=True):
                rows = conn.execute(query, [*params, coords, fetch]).fetchall()
                if not rows:
                    out.append(Hits.of(()))
                    continue
                full = np.stack([self.decode_vector(r[3]) for r in rows])
                if self.spec.metric == "l2":
                    diff = full - q
                    scores = -np.einsum("ij,ij->i", diff, diff)
                else:
                    scores = full @ q
                order = np.argsort(-scores, kind="stable")[:k]
                out.append(Hits.of(Hit(rows[i][0], float(scores[i]), rows[i][1], rows[i][2]) for i in order))
        return out

    def describe(self) -> dict[str, object]:
        return {"backend": "cube", "index": "gist", "index_dim": self.reduced_dim or self.spec.dim}

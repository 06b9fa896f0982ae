"""The pgvector store: a ``vector(dim)`` column with an HNSW index (over ``halfvec`` above 2000
dimensions, pgvector's limit for indexing ``vector``), upserts with ON CONFLICT in one transaction
per batch, iterative index scans for filtered queries and an exact re-run when those fall short.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from moorings.search.filters import Filter
from moorings.search.pg_common import COMMON_COLUMNS, PgStoreBase, db_errors, where_clause
from moorings.search.types import Hit, Hits, ItemBatch, Vectors

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 100
HALFVEC_ABOVE = 2000
#: operator, operator class and score from distance, per metric
OPS = {"cosine": ("<=>", "cosine_ops"), "ip": ("<#>", "ip_ops"), "l2": ("<->", "l2_ops")}


def score(metric: str, distance: float) -> float:
    if metric == "cosine":
        return 1.0 - distance
    if metric == "ip":
        return -distance
    return -(distance * distance)


class PgvectorStore(PgStoreBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vector_sql = sql.SQL("embedding")
        self.half = self.spec.dim > HALFVEC_ABOVE
        kind = "halfvec" if self.half else "vector"
        self.operator, ops = OPS[self.spec.metric]
        # the indexed expression, and the type a query vector is cast to
        self.indexed = sql.SQL(f"(embedding::halfvec({self.spec.dim}))" if self.half else "embedding")
        self.query_cast = sql.SQL(f"%s::{kind}({self.spec.dim})")
        self.opclass = sql.SQL(f"{kind}_{ops}")

    def create_table(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            sql.SQL("CREATE TABLE {} (" + COMMON_COLUMNS + ", embedding vector({}) NOT NULL)").format(
                self.table, sql.Literal(self.spec.dim)
            )
        )
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} USING hnsw ({} {}) WITH (m = {}, ef_construction = {})").format(
                sql.Identifier(f"items_{self.number}_hnsw"),
                self.table,
                self.indexed,
                self.opclass,
                sql.Literal(HNSW_M),
                sql.Literal(HNSW_EF_CONSTRUCTION),
            )
        )
        conn.execute(self.name_index_sql())

    def decode_vector(self, value: Any) -> Vectors:
        array = value.to_numpy() if hasattr(value, "to_numpy") else value
        return np.asarray(array, dtype=np.float32)

    @db_errors
    def upsert(self, batch: ItemBatch) -> None:
        query = sql.SQL(
            "INSERT INTO {} (id, name, metadata, embedding) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE"
            " SET name = EXCLUDED.name, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding"
        ).format(self.table)
        rows = [
            (i, n, None if m is None else Jsonb(m, dumps=lambda v: orjson.dumps(v).decode()), v)
            for i, n, m, v in zip(batch.ids, batch.names, batch.metadata, batch.vectors, strict=True)
        ]
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(query, rows)

    @db_errors
    def search(self, queries: Vectors, k: int, flt: Filter | None) -> list[Hits]:
        where, params = where_clause(flt)
        distance = sql.SQL("{} {} {}").format(self.indexed, sql.SQL(self.operator), self.query_cast)
        query = sql.SQL("SELECT id, name, metadata, {} AS d FROM {} {} ORDER BY d LIMIT %s").format(
            distance, self.table, where
        )
        out: list[Hits] = []
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(HNSW_EF_SEARCH, 2 * k)))
            )
            if flt is not None:
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            for q in queries:
                rows = conn.execute(query, [q, *params, k]).fetchall()
                if flt is not None and len(rows) < k:  # the index walk ran out: answer exactly
                    conn.execute("SET LOCAL enable_indexscan = off")
                    rows = conn.execute(query, [q, *params, k]).fetchall()
                    conn.execute("SET LOCAL enable_indexscan = on")
                rows.sort(key=lambda r: r[3])  # relaxed_order may leave small inversions
                out.append(Hits.of(Hit(r[0], score(self.spec.metric, float(r[3])), r[1], r[2]) for r in rows))
        return out

    def describe(self) -> dict[str, object]:
        return {"backend": "pgvector", "index": "hnsw-halfvec" if self.half else "hnsw"}

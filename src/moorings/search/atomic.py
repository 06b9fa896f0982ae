"""Crash-safe files: write to a temporary name, fsync, rename over the target, fsync the folder.

A reader (or a restart after ``kill -9``) sees either the old file or the new one, never a
partial one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_with(path: Path, writer: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` atomically, the content produced by ``writer(file)``."""
    tmp = path.with_name(f".tmp-{secrets.token_hex(6)}-{path.name}")
    try:
        with tmp.open("wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes) -> None:
    def write(f: BinaryIO) -> None:
        f.write(data)

    write_with(path, write)

"""Paths that stay inside the repository."""

from __future__ import annotations

import os
from pathlib import Path


def inside(root: Path, candidate: Path) -> bool:
    """True when ``candidate``, with symlinks resolved, lies inside ``root`` (already resolved)."""
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return resolved == root or root in resolved.parents


def escaping_entries(root: Path, folder: Path) -> list[str]:
    """Entries under ``folder`` (relative names) that are links resolving outside ``root``, or broken.

    Links to folders inside ``root`` are followed (once each), so a link to a
    folder elsewhere in the repository cannot hide a file that leaves it.
    """
    escaping: list[str] = []
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not inside(root, Path(path)):
                escaping.append(os.path.relpath(path, folder))
        kept = []
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not inside(root, Path(path)):
                escaping.append(os.path.relpath(path, folder))
            else:
                kept.append(name)
        dirnames[:] = kept
    return sorted(escaping)

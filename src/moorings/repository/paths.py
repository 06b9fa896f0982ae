"""Paths that stay inside the repository."""

from __future__ import annotations

from pathlib import Path


def inside(root: Path, candidate: Path) -> bool:
    """True when ``candidate``, with symlinks resolved, lies inside ``root`` (already resolved)."""
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return resolved == root or root in resolved.parents

"""Collection names: the same alphabet as model names, so a name is also a safe folder name."""

from __future__ import annotations

import re

from moorings.errors import InvalidArgument

COLLECTION_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_collection_name(name: str) -> str:
    """Return ``name`` if it is a valid collection name, else raise InvalidArgument."""
    if COLLECTION_NAME_RE.fullmatch(name) is None or ".." in name:
        shown = name if len(name) <= 80 and name.isprintable() else repr(name[:80]) + "…"
        raise InvalidArgument(
            f"invalid collection name {shown}: a name is 1-64 characters of letters, digits, "
            "'_', '.' and '-', starting with a letter or digit"
        )
    return name

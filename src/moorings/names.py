"""Model names and version numbers as clients and folders spell them."""

from __future__ import annotations

import re

from moorings.errors import InvalidArgument

MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
VERSION_RE = re.compile(r"[0-9]{1,18}")


def is_valid_model_name(name: str) -> bool:
    return MODEL_NAME_RE.fullmatch(name) is not None and ".." not in name


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise InvalidArgument."""
    if not is_valid_model_name(name):
        shown = name if len(name) <= 80 and name.isprintable() else repr(name[:80]) + "…"
        raise InvalidArgument(
            f"invalid model name {shown}: a name is 1-64 characters of letters, digits, "
            "'_', '.' and '-', starting with a letter or digit"
        )
    return name


def parse_version(text: str) -> int:
    """A version from a URL or folder name: decimal digits only."""
    if VERSION_RE.fullmatch(text) is None:
        shown = text if len(text) <= 40 and text.isprintable() else repr(text[:40])
        raise InvalidArgument(f"invalid version {shown}: a version is a non-negative integer")
    return int(text)

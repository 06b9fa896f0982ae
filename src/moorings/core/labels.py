"""A version's class names: ``labels.txt`` or ``labels.json`` in its folder or its ``assets/``.

``labels.txt`` holds one name per line (UTF-8); ``labels.json`` a JSON list of strings.
Name ``i`` belongs to class index ``i`` of the ranked output. A file that is too large,
not UTF-8, not the expected shape, not a regular file, or a link leaving the repository
fails the version's load with a message naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from moorings.errors import LoadError
from moorings.repository.paths import inside

#: the places looked at, in order; at most one of them may exist
CANDIDATES = ("labels.txt", "labels.json", "assets/labels.txt", "assets/labels.json")
#: a labels file larger than this is refused unread
MAX_LABELS_BYTES = 1024 * 1024
#: more names than this are refused
MAX_LABELS = 100_000


def find_labels(root: Path, folder: Path) -> tuple[str, ...] | None:
    """The class names of the version in ``folder`` (inside the resolved ``root``), or None."""
    present = [name for name in CANDIDATES if os.path.lexists(folder / name)]
    if not present:
        return None
    if len(present) > 1:
        raise LoadError(f"the version has several labels files ({', '.join(present)}); keep one")
    (name,) = present
    path = folder / name
    if not inside(root, path):
        raise LoadError(f"{name} is a link that leaves the model repository (or is broken)")
    raw = _read_bounded(path, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{name} is not UTF-8 text (bad byte at offset {exc.start})") from None
    names = _from_json(text, name) if name.endswith(".json") else _from_lines(text)
    if len(names) > MAX_LABELS:
        raise LoadError(f"{name} holds {len(names)} labels; at most {MAX_LABELS} are allowed")
    if not names:
        raise LoadError(f"{name} holds no labels")
    return tuple(names)


def _read_bounded(path: Path, name: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise LoadError(f"{name} cannot be read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LoadError(f"{name} is not a regular file")
        chunks = []
        left = MAX_LABELS_BYTES + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise LoadError(f"{name} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > MAX_LABELS_BYTES:
        raise LoadError(f"{name} is larger than {MAX_LABELS_BYTES} bytes")
    return raw


def _from_lines(text: str) -> list[str]:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _from_json(text: str, name: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise LoadError(f"{name} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LoadError(f"{name} must be a JSON list of strings (one class name per index)")
    return value

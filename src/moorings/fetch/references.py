"""The ``{"url": ...}`` values of a parsed JSON body, and where each sits (pure).

A value that is an object with the single key ``"url"`` and a string value is an
input by reference, as ``{"b64": ...}`` is an input given inline: it stands for
bytes. :func:`find` walks lists and objects (numbers read straight into numpy
arrays are skipped) and returns each reference with its container and key, so
the fetched bytes can take the reference's place before the body is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moorings.errors import InvalidArgument

#: the most references one request may carry
MAX_REFERENCES = 256
#: a cheap test on the raw body before any walk: a body without it holds no reference
MARKER = b'"url"'
#: ``l`` bytes looked at one by one before the plain search takes over
_QUICK_MISSES = 16


@dataclass(slots=True)
class Reference:
    url: str
    container: list[Any] | dict[str, Any]
    key: Any

    def put(self, data: bytes) -> None:
        """Put the fetched bytes where the reference was."""
        self.container[self.key] = data


def is_reference(value: Any) -> bool:
    return type(value) is dict and len(value) == 1 and type(value.get("url")) is str


def may_hold_references(raw: bytes | bytearray | memoryview) -> bool:
    """False when the raw JSON cannot hold a reference (the key ``"url"`` is not in it).

    A search for the one byte ``l`` runs at memchr's speed, and number-only bodies hold few
    (``null``, ``false``, key names); a multi-byte search reads every byte several times slower.
    Bodies with many ``l`` (text) fall back to the plain search after a few misses.
    """
    data = raw if not isinstance(raw, memoryview) else raw.tobytes()
    find = data.find
    at = find(b"l", 3)
    for _ in range(_QUICK_MISSES):
        if at == -1:
            return False
        if data[at - 3 : at + 2] == MARKER:
            return True
        at = find(b"l", at + 1)
    return at != -1 and find(MARKER, at - 3) != -1


def find(root: list[Any] | dict[str, Any]) -> list[Reference]:
    """Every reference inside ``root`` (not ``root`` itself); at most :data:`MAX_REFERENCES`
    (InvalidArgument beyond)."""
    found: list[Reference] = []
    stack: list[list[Any] | dict[str, Any]] = [root]
    while stack:
        container = stack.pop()
        items = enumerate(container) if type(container) is list else container.items()  # type: ignore[union-attr]
        nested = []
        for key, value in items:
            kind = type(value)
            if kind is dict:
                if is_reference(value):
                    if len(found) == MAX_REFERENCES:
                        raise InvalidArgument(f"a request may carry at most {MAX_REFERENCES} input URLs")
                    found.append(Reference(value["url"], container, key))
                else:
                    nested.append(value)
            elif kind is list:
                nested.append(value)
        stack.extend(reversed(nested))
    return found

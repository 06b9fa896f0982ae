"""Reading TFRecord files without TensorFlow, checking every CRC.

A TFRecord file is a sequence of records, each::

    uint64 length (little-endian)
    uint32 masked CRC-32C of the 8 length bytes
    length bytes of data
    uint32 masked CRC-32C of the data

A masked CRC is ``((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32). CRC-32C
(Castagnoli) is computed here in Python from a table, or by ``google_crc32c``
when that package is installed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from moorings.errors import InvalidArgument

_MASK_DELTA = 0xA282EAD8
_POLY = 0x82F63B78  # CRC-32C, reflected


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def _crc32c_python(data: bytes | memoryview) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _pick_crc32c() -> Callable[[bytes | memoryview], int]:
    try:
        import google_crc32c  # type: ignore[import-not-found]
    except ImportError:
        return _crc32c_python
    if google_crc32c.implementation != "c":
        return _crc32c_python

    def crc(data: bytes | memoryview) -> int:
        return int(google_crc32c.value(bytes(data)))

    return crc


crc32c = _pick_crc32c()


def masked_crc(data: bytes | memoryview) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def records(data: bytes, limit: int, what: str = "the TFRecord file") -> Iterator[bytes]:
    """The records of a whole TFRecord file's bytes, in order; at most ``limit`` of them.

    Raises InvalidArgument naming the record when the file is truncated, a CRC does not
    match, or it holds more than ``limit`` records.
    """
    view = memoryview(data)
    offset = 0
    index = 0
    while offset < len(view):
        if index >= limit:
            raise InvalidArgument(f"{what} holds more than {limit} records")
        if len(view) - offset < 12:
            raise InvalidArgument(f"{what} is truncated in the header of record {index}")
        header = view[offset : offset + 8]
        (length,) = struct.unpack_from("<Q", view, offset)
        (length_crc,) = struct.unpack_from("<I", view, offset + 8)
        if masked_crc(header) != length_crc:
            raise InvalidArgument(f"{what} is corrupt: the length CRC of record {index} does not match")
        start = offset + 12
        if length > len(view) - start - 4:
            raise InvalidArgument(f"{what} is truncated in record {index} (it declares {length} bytes)")
        payload = view[start : start + length]
        (data_crc,) = struct.unpack_from("<I", view, start + length)
        if masked_crc(payload) != data_crc:
            raise InvalidArgument(f"{what} is corrupt: the data CRC of record {index} does not match")
        yield bytes(payload)
        offset = start + length + 4
        index += 1


def encode_record(payload: bytes) -> bytes:
    """One record in the TFRecord framing (for writing warm-up files without TensorFlow)."""
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc(header)) + payload + struct.pack("<I", masked_crc(payload))

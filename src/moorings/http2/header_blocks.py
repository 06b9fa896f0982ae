"""HPACK (RFC 7541): decoding the client's header blocks, encoding the server's.

Decoding is the ``hpack`` package's, behind a cache: a client that sends the
same headers per call (every gRPC client, every load generator) sends the same
block bytes once the table holds what it indexes, and the cache answers those
without decoding. A block that only references the table or carries literals
"without indexing" reads the table but never changes it, so its decoding holds
until a block that changes the table (a literal with incremental indexing or a
size update) is decoded, which empties the cache.

Before a block is decoded its field representations are counted (a walk over
the encoded bytes that reads only lengths): a block of more than
``max_fields`` fields is refused without decoding it, so the decoder's cost
per block is bounded by the field count as well as by the byte size. The
decoded list's size (names, values and 32 bytes per field, RFC 7541 §4.1)
is bounded while decoding. Only small blocks are cached.

The server encodes without the dynamic table: static-table references and
literals "without indexing", so the client's table never depends on the
server's and nothing needs tracking.
"""

from __future__ import annotations

import hpack

from moorings.http2.frames import COMPRESSION_ERROR, ENHANCE_YOUR_CALM, Http2Error

Headers = list[tuple[bytes, bytes]]

#: bytes that are a whole indexed field on their own (0x80 is index 0, an error; 0xFF continues)
_ONE_BYTE_INDEXED = bytes(range(0x81, 0xFF))
_CACHE_ENTRIES = 16
#: blocks longer than this are decoded each time, never cached (a repeated call's block is tens of bytes)
_CACHEABLE_BYTES = 256
#: continuation bytes of one HPACK integer: 4 hold any value below 2^28, far above every limit here
_MAX_INTEGER_BYTES = 4


class HeaderDecoder:
    """One per connection: HPACK state is per connection and direction."""

    def __init__(self, max_list_bytes: int, max_fields: int = 128) -> None:
        self._decoder = hpack.Decoder(max_header_list_size=max_list_bytes)
        self._max_fields = max_fields
        self._cache: dict[bytes, Headers] = {}

    def decode(self, block: bytes) -> Headers:
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        fields, changes_table = scan(block, self._max_fields)
        if fields > self._max_fields:
            raise Http2Error(ENHANCE_YOUR_CALM, f"header block has more than {self._max_fields} fields")
        try:
            headers: Headers = [(name, value) for name, value in self._decoder.decode(block, raw=True)]
        except hpack.OversizedHeaderListError as exc:
            raise Http2Error(ENHANCE_YOUR_CALM, f"header list too large: {exc}") from None
        except hpack.HPACKError as exc:
            raise Http2Error(COMPRESSION_ERROR, f"header block cannot be decoded: {exc}") from None
        if changes_table:
            self._cache.clear()
        elif len(block) <= _CACHEABLE_BYTES:
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[block] = headers
        return headers

    def clear(self) -> None:
        """Forget the cache (the connection is closed)."""
        self._cache.clear()


def scan(block: bytes, max_fields: int) -> tuple[int, bool]:
    """The number of field representations in a block (counting stops past ``max_fields``), and
    whether the block inserts into the dynamic table or resizes it (RFC 7541 §6).

    Reads only the representations' first bytes and string lengths. A malformed block gets a
    count that is no larger than its true one; the decoder then refuses it.
    """
    if not block.translate(None, _ONE_BYTE_INDEXED):
        return len(block), False  # the common case: one-byte indexed fields only
    position, size, fields, changes = 0, len(block), 0, False
    try:
        while position < size and fields <= max_fields:
            first = block[position]
            fields += first & 0xE0 != 0x20  # a table size update is no field
            if first & 0x80:  # indexed field
                _, position = _integer_at(block, position, 0x7F)
            elif first & 0xC0 == 0x40:  # literal with incremental indexing: name index or literal name
                changes = True
                index, position = _integer_at(block, position, 0x3F)
                if not index:
                    position = _past_string(block, position)
                position = _past_string(block, position)
            elif first & 0xE0 == 0x20:  # dynamic table size update
                changes = True
                _, position = _integer_at(block, position, 0x1F)
            else:  # literal without indexing / never indexed: name index or literal name, then value
                index, position = _integer_at(block, position, 0x0F)
                if not index:
                    position = _past_string(block, position)
                position = _past_string(block, position)
    except (IndexError, ValueError):
        pass  # truncated or malformed: hpack says why
    return fields, changes


def _changes_table(block: bytes) -> bool:
    """Whether a (valid) block inserts into the dynamic table or resizes it (RFC 7541 §6)."""
    return scan(block, len(block))[1]


def _integer_at(block: bytes, position: int, mask: int) -> tuple[int, int]:
    """An HPACK integer (RFC 7541 §5.1) with a ``mask``-bit prefix at ``position``; and where it ends."""
    value = block[position] & mask
    position += 1
    if value == mask:
        shift = 0
        while True:
            byte = block[position]
            position += 1
            value += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift >= 7 * _MAX_INTEGER_BYTES:
                raise ValueError("HPACK integer too long")
    return value, position


def _past_string(block: bytes, position: int) -> int:
    """Where the string literal at ``position`` (length with a 7-bit prefix, then octets) ends."""
    length, start = _integer_at(block, position, 0x7F)
    return start + length


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (RFC 7541 §5.1) with ``first``'s high bits as the representation's pattern."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(value: bytes) -> bytes:
    return _integer(len(value), 7, 0x00) + value  # raw octets, no Huffman


def literal(name: bytes, value: bytes) -> bytes:
    """A literal header field without indexing, with a literal name (RFC 7541 §6.2.2)."""
    return b"\x00" + _string(name) + _string(value)


def literal_static_name(index: int, value: bytes) -> bytes:
    """A literal header field without indexing whose name is static-table entry ``index``."""
    return _integer(index, 4, 0x00) + _string(value)


def indexed(index: int) -> bytes:
    """A header field that is static-table entry ``index`` (RFC 7541 §6.1)."""
    return _integer(index, 7, 0x80)


STATUS_200 = indexed(8)
CONTENT_TYPE = 31  # static-table index of the name "content-type"


def status(code: int) -> bytes:
    """``:status`` (a literal with the static name works for any code)."""
    return STATUS_200 if code == 200 else literal_static_name(8, str(code).encode())

"""``multipart/form-data`` request bodies (RFC 7578) split into named parts, with bounds.

The parsing is python-multipart's streaming ``MultipartParser``; this module collects its
parts in memory, each bounded (a part over ``max_part_bytes`` is a 413 naming it), bounds
their number, and turns every way a body can be malformed into a 400 naming it. The body
is fed in slices, so it could come from a stream as well as from the whole body the
transports hand the app today.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from moorings.errors import InvalidArgument, PayloadTooLarge

#: the media type whose bodies this module reads
FORM_DATA = b"multipart/form-data"
#: bytes handed to the parser at a time
SLICE = 256 * 1024
#: headers a part may have, and the bytes of one header line
MAX_PART_HEADERS = 8
MAX_HEADER_BYTES = 4096


@dataclass(slots=True)
class Part:
    """One part of a form: a file (it has a file name) or a plain field."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)


def form_boundary(content_type: bytes | None) -> bytes | None:
    """The boundary of a ``multipart/form-data`` Content-Type; None for any other media type.

    InvalidArgument when the type is multipart/form-data but names no usable boundary.
    """
    if not content_type or content_type[:10].lower() != b"multipart/":
        return None
    media, options = parse_options_header(content_type)
    if media != FORM_DATA:
        return None
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidArgument("the Content-Type multipart/form-data has no boundary parameter")
    if len(boundary) > 70 or not all(32 <= c < 127 for c in boundary):
        raise InvalidArgument("the multipart boundary must be 1 to 70 printable ASCII characters (RFC 2046)")
    return boundary


class _Collector:
    """The parser's callbacks: build the parts, enforcing the limits as data arrives."""

    def __init__(self, max_parts: int, max_part_bytes: int) -> None:
        self.max_parts = max_parts
        self.max_part_bytes = max_part_bytes
        self.parts: list[Part] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._current: Part | None = None

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
        }

    def part_begin(self) -> None:
        if len(self.parts) >= self.max_parts:
            raise InvalidArgument(f"the form has more than {self.max_parts} parts")
        self._headers = []
        self._current = None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers.append((bytes(self._field).strip().lower(), bytes(self._value).strip()))
        self._field, self._value = bytearray(), bytearray()

    def headers_finished(self) -> None:
        index = len(self.parts)
        headers = dict(self._headers)
        disposition, options = parse_options_header(headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidArgument(
                f'form part {index} needs a "Content-Disposition: form-data; name=..." header'
            )
        name = _text(options[b"name"], f"the name of form part {index}")
        if not name:
            raise InvalidArgument(f"form part {index} has an empty name")
        filename = options.get(b"filename")
        content_type = headers.get(b"content-type")
        self._current = Part(
            name,
            None if filename is None else _text(filename, f"the file name of part {name!r}"),
            None if content_type is None else content_type.decode("latin-1"),
        )
        self.parts.append(self._current)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        assert part is not None  # data comes after the headers
        if len(part.data) + (end - start) > self.max_part_bytes:
            what = f"file {part.filename!r} in part {part.name!r}" if part.filename else f"part {part.name!r}"
            raise PayloadTooLarge(f"the {what} is over the limit of {self.max_part_bytes} bytes per part")
        part.data += data[start:end]


def _text(raw: bytes, what: str) -> str:
    """A header parameter as text: UTF-8 as browsers send it (python-multipart reads it as latin-1)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{what} is not valid UTF-8") from None


def parse_form(body: bytes | bytearray, boundary: bytes, max_parts: int, max_part_bytes: int) -> list[Part]:
    """The parts of a multipart/form-data body, in order; 400/413 naming what is wrong."""
    if not body:
        raise InvalidArgument("the multipart/form-data body is empty")
    collector = _Collector(max_parts, max_part_bytes)
    parser = MultipartParser(
        boundary,
        collector.callbacks(),  # type: ignore[arg-type]
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_HEADER_BYTES,
    )
    try:
        for start in range(0, len(body), SLICE):
            parser.write(bytes(body[start : start + SLICE]))
    except MultipartParseError as exc:
        hint = "" if collector.parts else " (does the body use the boundary its Content-Type names?)"
        raise InvalidArgument(f"malformed multipart/form-data body{hint}: {_first(exc)}") from None
    if parser.state != MultipartState.END:
        raise InvalidArgument(
            "the multipart/form-data body ends before its closing boundary (--BOUNDARY--); "
            "is the boundary in the Content-Type the one the body uses?"
        )
    if not collector.parts:
        raise InvalidArgument("the multipart/form-data body has no parts")
    return collector.parts


def _first(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]

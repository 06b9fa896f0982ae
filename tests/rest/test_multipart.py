"""multipart/form-data bodies split into parts, with their bounds, against bodies httpx writes
and bodies written by hand."""

from __future__ import annotations

import httpx
import pytest

from moorings.errors import InvalidArgument, PayloadTooLarge
from moorings.rest.multipart import form_boundary, parse_form


def encoded(
    files: list[tuple[str, tuple[str, bytes, str]]], data: dict[str, str] | None = None
) -> tuple[bytes, bytes]:
    """(body, Content-Type) as httpx writes a form."""
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.read(), request.headers["content-type"].encode()


def test_files_and_fields_come_back_in_order() -> None:
    jpeg = bytes(range(256)) * 40  # binary, with CR LF and dashes inside
    body, content_type = encoded(
        [("image", ("cat.jpg", jpeg, "image/jpeg")), ("image", ("dog.png", b"--\r\n--x", "image/png"))],
        {"top_k": "3"},
    )
    boundary = form_boundary(content_type)
    assert boundary is not None
    parts = parse_form(body, boundary, max_parts=10, max_part_bytes=len(jpeg))
    assert [(p.name, p.filename, p.content_type) for p in parts] == [
        ("top_k", None, None),
        ("image", "cat.jpg", "image/jpeg"),
        ("image", "dog.png", "image/png"),
    ]
    assert [bytes(p.data) for p in parts] == [b"3", jpeg, b"--\r\n--x"]


def test_a_body_fed_in_slices_is_the_same() -> None:
    big = b"\x00\r\n-" * 200_000  # several parser slices
    body, content_type = encoded([("image", ("a.bin", big, "application/octet-stream"))])
    boundary = form_boundary(content_type)
    assert boundary is not None
    (part,) = parse_form(body, boundary, 10, len(big))
    assert bytes(part.data) == big


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        (None, None),
        (b"application/json", None),
        (b"image/png", None),
        (b"multipart/mixed; boundary=abc", None),
        (b'Multipart/Form-Data; boundary="a b"', b"a b"),
        (b"multipart/form-data; charset=utf-8; boundary=xyz", b"xyz"),
    ],
)
def test_the_boundary_comes_only_from_form_data(content_type: bytes | None, boundary: bytes | None) -> None:
    assert form_boundary(content_type) == boundary


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (b"multipart/form-data", "has no boundary parameter"),
        (b"multipart/form-data; boundary=", "has no boundary parameter"),
        (b"multipart/form-data; boundary=" + b"x" * 71, "1 to 70 printable ASCII characters"),
    ],
)
def test_a_bad_boundary_is_named(content_type: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        form_boundary(content_type)


def _body(*parts: bytes, close: bool = True) -> bytes:
    return b"".join(b"--B\r\n" + p + b"\r\n" for p in parts) + (b"--B--\r\n" if close else b"")


FIELD = b'Content-Disposition: form-data; name="x"\r\n\r\n1'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the multipart/form-data body is empty"),
        (b"--B--\r\n", "has no parts"),
        (_body(FIELD, close=False), "ends before its closing boundary"),
        (b"--C\r\n" + FIELD + b"\r\n--C--\r\n", "malformed multipart/form-data body"),
        (
            _body(b"Content-Type: text/plain\r\n\r\n1"),
            'form part 0 needs a "Content-Disposition: form-data; name=..."',
        ),
        (_body(b'Content-Disposition: attachment; name="x"\r\n\r\n1'), "form part 0 needs a"),
        (_body(b'Content-Disposition: form-data; name=""\r\n\r\n1'), "form part 0 has an empty name"),
        (
            _body(b'Content-Disposition: form-data; name="\xff"\r\n\r\n1'),
            "the name of form part 0 is not valid UTF-8",
        ),
        (_body(*[b"X-A: 1\r\n" * 9 + FIELD]), "malformed multipart/form-data body"),
        (_body(FIELD, FIELD, FIELD), "the form has more than 2 parts"),
    ],
)
def test_malformed_forms_are_named(body: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_form(body, b"B", max_parts=2, max_part_bytes=100)
    assert message in caught.value.message
    assert caught.value.http_status == 400


def test_a_part_over_the_limit_is_413_naming_it() -> None:
    body, content_type = encoded([("image", ("big.jpg", b"x" * 101, "image/jpeg"))])
    boundary = form_boundary(content_type)
    assert boundary is not None
    with pytest.raises(
        PayloadTooLarge, match=r"the file 'big\.jpg' in part 'image' is over the limit of 100 bytes"
    ):
        parse_form(body, boundary, 10, 100)
    assert len(parse_form(body, boundary, 10, 101)[0].data) == 101

"""The own front end's servicer context: call metadata as grpc.aio hands it to handlers."""

from __future__ import annotations

import base64

from moorings.grpc.context import CallContext


def test_binary_metadata_is_decoded_and_a_bad_encoding_does_not_raise() -> None:
    headers = [
        (b":path", b"/x"),
        (b"te", b"trailers"),
        (b"key", b"value"),
        (b"blob-bin", base64.b64encode(b"\x00\x01\x02").rstrip(b"=")),
        (b"odd-bin", b"a"),  # one base64 character: no byte can be decoded from it
    ]
    metadata = CallContext(None, headers, "").invocation_metadata()
    assert metadata == (("key", "value"), ("blob-bin", b"\x00\x01\x02"), ("odd-bin", b"a"))

"""Parsed JSON headers of KServe V2 requests whose tensors all travel as binary data.

A client that sends binary tensors sends the same small JSON header with every
request of the same shape: names, datatypes, shapes, sizes (and its ``id``, if
it sets one). Such a header is parsed and checked once; the parsed request is
immutable and serves every later request that sends the same bytes. Headers
that carry ``data`` (JSON values, different in every request) are not kept,
nor headers over ``max_head_bytes``; at most ``entries`` are kept, the oldest
dropped first. Bad headers raise as before and are never kept.
"""

from __future__ import annotations

from moorings.codecs import v2_json
from moorings.codecs.json_fast import parse_v2_data_arrays
from moorings.codecs.v2_json import V2Request
from moorings.rest.http import parse_json


def parse(head: bytes | bytearray) -> V2Request:
    """A V2 request's JSON part, parsed and checked."""
    return v2_json.parse_request(parse_json(head, parse_v2_data_arrays))


class HeadCache:
    def __init__(self, entries: int = 1024, max_head_bytes: int = 2048) -> None:
        self.entries = entries
        self.max_head_bytes = max_head_bytes
        self._parsed: dict[bytes, V2Request] = {}

    def __len__(self) -> int:
        return len(self._parsed)

    def parse(self, head: bytes | bytearray) -> V2Request:
        """``parse(head)``, from the cache when the same binary-only header came before."""
        if len(head) > self.max_head_bytes or type(head) is not bytes:
            return parse(head)
        request = self._parsed.get(head)
        if request is None:
            request = parse(head)
            if request.binary_bytes is not None:
                if len(self._parsed) >= self.entries:
                    del self._parsed[next(iter(self._parsed))]
                self._parsed[head] = request
        return request

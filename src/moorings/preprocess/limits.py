"""The server's limits on raw inputs (set by ``moorings serve`` flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputLimits:
    #: width x height one image may declare (``--max-image-pixels``)
    max_image_pixels: int = 40_000_000
    #: bytes of one encoded image (``--max-image-mb``); also each multipart file part
    max_image_bytes: int = 20 * 1024 * 1024
    #: bytes of the tensor one request's images decode to (``--max-decoded-image-mb``)
    max_decoded_bytes: int = 512 * 1024 * 1024

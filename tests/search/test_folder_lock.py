"""The embedded store's folder lock: one holder at a time, and the holder's REST address for others."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorings.errors import Unavailable
from moorings.search.faiss_store import FaissBackend
from moorings.search.folder_lock import FolderLock, holder_url, local_url


def test_the_holder_advertises_its_address_until_it_lets_go(tmp_path: Path) -> None:
    assert holder_url(tmp_path) is None  # no lock file yet
    lock = FolderLock(tmp_path)
    assert holder_url(tmp_path) is None  # held, but no address: not a server (or not listening yet)
    lock.advertise("http://127.0.0.1:8501")
    assert holder_url(tmp_path) == "http://127.0.0.1:8501"
    with pytest.raises(
        Unavailable, match=r"the server at http://127\.0\.0\.1:8501; use it \(moorings collection --url"
    ):
        FolderLock(tmp_path)
    lock.close()
    assert holder_url(tmp_path) is None
    lock.advertise("http://127.0.0.1:1")  # after close: nothing written, nothing raised
    again = FolderLock(tmp_path)  # the folder is free again
    again.close()


def test_text_left_by_a_holder_that_is_gone_is_ignored(tmp_path: Path) -> None:
    (tmp_path / ".lock").write_text('{"pid": 1, "rest_url": "http://127.0.0.1:9"}')
    assert holder_url(tmp_path) is None  # nobody holds the lock: the text is stale
    lock = FolderLock(tmp_path)
    assert (tmp_path / ".lock").read_bytes() == b""  # a new holder clears it
    (tmp_path / ".lock").write_text("not json")
    assert holder_url(tmp_path) is None
    (tmp_path / ".lock").write_text('{"rest_url": "file:///etc/passwd"}')
    assert holder_url(tmp_path) is None  # only an http(s) address is followed
    lock.close()


def test_the_backend_writes_what_the_server_advertises(tmp_path: Path) -> None:
    backend = FaissBackend(tmp_path)
    backend.advertise("http://127.0.0.1:8501")
    assert holder_url(tmp_path / "collections") == "http://127.0.0.1:8501"
    with pytest.raises(Unavailable, match="in use by another Moorings process"):
        FaissBackend(tmp_path)
    backend.close()
    assert holder_url(tmp_path / "collections") is None


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8501"),
        ("0.0.0.0", "http://127.0.0.1:8501"),
        ("::", "http://[::1]:8501"),
        ("::1", "http://[::1]:8501"),
        ("10.0.0.5", "http://10.0.0.5:8501"),
    ],
)
def test_local_url(host: str, url: str) -> None:
    assert local_url(host, 8501) == url

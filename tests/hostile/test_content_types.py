"""No Content-Type picks a reader that can run code: pickles sent under any media type are refused,
and the code inside them never runs."""

from __future__ import annotations

import asyncio
import io
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from moorings.search.faiss_store import FaissBackend
from moorings.search.service import Collections
from moorings.search.types import CollectionSpec
from tests.support import onnx_models


class Touch:
    """Unpickling this creates a file: the proof that a pickle ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (os.open, (self.path, os.O_CREAT | os.O_WRONLY))


MEDIA_TYPES = [
    "application/python-pickle", "application/x-pickle", "application/x-python-serialize",
    "application/octet-stream", "application/x-npy", "application/x-joblib", "application/json",
]  # fmt: skip


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RestApp]:
    repo = tmp_path / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1")
    manager = Manager(LocalSource(repo), Loader(repo))
    manager.poll_once()
    manager.wait_until_idle(60)
    dataplane = DataPlane(manager, inference_threads=1)
    collections = Collections(FaissBackend(tmp_path / "data"))
    collections.create(CollectionSpec("films", 2))
    yield RestApp(dataplane, 1 << 20, collections=collections)
    collections.close()
    manager.stop()
    dataplane.close()


def post(app: RestApp, path: str, body: bytes, media_type: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(path, content=body, headers={"content-type": media_type})

    return asyncio.run(go())


def pickled_npy(path: Path) -> bytes:
    """A valid .npy file of an object array, whose data is a pickle of :class:`Touch`."""
    array = np.empty(1, dtype=object)
    array[0] = Touch(str(path))
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("media_type", MEDIA_TYPES)
def test_pickles_are_refused_under_every_media_type(app: RestApp, tmp_path: Path, media_type: str) -> None:
    marker = tmp_path / "pickle-ran"
    for body in (pickle.dumps(Touch(str(marker))), pickled_npy(marker)):
        for path in ("/v1/models/mlp:predict", "/v2/models/mlp/infer", "/v1/collections/films:search",
                     "/v1/collections/films:upsert"):  # fmt: skip
            r = post(app, path, body, media_type)
            assert r.status_code == 400, (path, media_type, r.text)
            assert "error" in r.json()
    assert not marker.exists()

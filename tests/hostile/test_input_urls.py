"""Hostile input URLs through the REST app in-process: each a clear 400, nothing fetched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.fetch.resolver import InputFetcher
from moorings.fetch.settings import FetchSettings
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from tests.support import onnx_models
from tests.support.asgi import call
from tests.support.bytes_models import write_bytes_echo
from tests.support.s3 import body_of, http_server


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestApp]:
    repo = tmp_path_factory.mktemp("hostile-urls")
    write_bytes_echo(repo / "echo" / "1")
    onnx_models.write_mlp(repo / "mlp" / "1")
    manager = Manager(LocalSource(repo), Loader(repo))
    manager.poll_once()
    manager.wait_until_idle(60)
    fetcher = InputFetcher(FetchSettings(allowed=("s3://inputs", "http://127.0.0.1:1")))
    dataplane = DataPlane(manager, inference_threads=1, fetcher=fetcher)
    try:
        yield RestApp(dataplane, max_body_bytes=4 * 1024 * 1024)
    finally:
        manager.stop()
        dataplane.close()


def error(app: RestApp, path: str, body: object) -> str:
    answer = call(app, "POST", path, json=body)
    assert answer.status == 400, answer.body
    message: str = answer.json()["error"]
    return message


def test_too_many_urls(app: RestApp) -> None:
    body = {"instances": [{"url": f"s3://inputs/{i}"} for i in range(300)]}
    assert "at most 256 input URLs" in error(app, "/v1/models/echo:predict", body)


def test_malformed_url_values(app: RestApp) -> None:
    path = "/v1/models/echo:predict"
    assert 'is {"url": "<URL string>"}' in error(app, path, {"inputs": {"data": [{"url": 5}]}})
    assert "must start with s3://" in error(app, path, {"instances": [{"url": "gopher://x/y"}]})
    assert "longer than 8192" in error(app, path, {"instances": [{"url": "s3://inputs/" + "k" * 9000}]})
    assert "not valid" in error(app, path, {"instances": [{"url": "https://[::1/x"}]})


def test_a_v2_url_outside_a_list(app: RestApp) -> None:
    body = {"inputs": [{"name": "data", "datatype": "BYTES", "shape": [1], "data": {"url": "s3://inputs/k"}}]}
    assert "element of a list" in error(app, "/v2/models/echo/infer", body)


def test_a_refused_url_for_an_unknown_model_is_a_404_first(app: RestApp) -> None:
    answer = call(app, "POST", "/v1/models/nope:predict", json={"instances": [{"url": "s3://other/k"}]})
    assert answer.status == 404


def test_urls_are_checked_before_any_fetch(app: RestApp) -> None:
    with http_server(body_of(b"never")) as server:
        body = {"instances": [{"url": f"{server.url}/a"}, {"url": "s3://elsewhere/k"}]}
        message = error(app, "/v1/models/echo:predict", body)
    assert "not allowed" in message
    assert server.requests == []


def test_a_url_for_a_number_input_is_refused_after_the_fetch_is_refused(app: RestApp) -> None:
    assert "not allowed" in error(app, "/v1/models/mlp:predict", {"instances": [{"url": "s3://x-y-z/k"}]})


def test_a_key_named_url_elsewhere_changes_nothing(app: RestApp) -> None:
    answer = call(app, "POST", "/v1/models/mlp:predict", json={"instances": [[1, 2, 3, 4]], "url": "x"})
    assert answer.status == 200

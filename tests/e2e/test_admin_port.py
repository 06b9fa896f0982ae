"""The admin port on a real server process, beside a read-only, token-protected data plane."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from moorings.protos import search_pb2, search_pb2_grpc
from tests.support import onnx_models
from tests.support.server import RunningServer, free_port, running_server

pytestmark = pytest.mark.e2e

DATA_TOKEN = "data-plane-token-5a"
ADMIN_TOKEN = "admin-token-c7e2"
X = [[0.5, -1.0, 2.0, 0.25]]


@dataclass
class Served:
    server: RunningServer
    admin: str
    root: Path

    def rest(self, method: str, path: str, token: str = DATA_TOKEN, **kw: object) -> httpx.Response:
        return httpx.request(
            method, self.server.url + path, headers={"authorization": f"Bearer {token}"}, **kw
        )  # type: ignore[arg-type]

    def admin_call(self, method: str, path: str, token: str = ADMIN_TOKEN, **kw: object) -> httpx.Response:
        return httpx.request(method, self.admin + path, headers={"x-api-key": token}, timeout=60, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("admin")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1")
    (root / "data-tokens").write_text(DATA_TOKEN + "\n")
    (root / "admin-tokens").write_text(ADMIN_TOKEN + "\n")
    port = free_port()
    with running_server(
        root / "repo",
        "--auth-token-file", str(root / "data-tokens"),
        "--admin-port", str(port), "--admin-token-file", str(root / "admin-tokens"),
        "--read-only-data-plane", "--data-dir", str(root / "data"),
    ) as server:  # fmt: skip
        yield Served(server, f"http://127.0.0.1:{port}", root)


def test_the_admin_port_listens_on_loopback_only(served: Served) -> None:
    port = int(served.admin.rsplit(":", 1)[1])
    assert f"admin API on http://127.0.0.1:{port}" in served.server.log()
    with socket.socket() as s:  # the port is bound to 127.0.0.1, not to every address
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError):
            s.bind(("127.0.0.1", port))


def test_tokens_of_one_port_do_not_open_the_other(served: Served) -> None:
    assert served.admin_call("POST", "/v2/repository/index", token=DATA_TOKEN).status_code == 401
    assert served.rest("GET", "/v1/models/mlp", token=ADMIN_TOKEN).status_code == 401
    assert served.admin_call("POST", "/v2/repository/index").status_code == 200
    assert served.rest("GET", "/v1/models/mlp").status_code == 200


def test_collection_writes_go_through_the_admin_port(served: Served) -> None:
    refused = served.rest("POST", "/v1/collections", json={"name": "films", "dim": 2})
    assert refused.status_code == 403 and served.admin.removeprefix("http://") in refused.json()["error"]
    assert served.admin_call("POST", "/v1/collections", json={"name": "films", "dim": 2}).status_code == 201
    items = {"items": [{"id": "a", "vector": [1, 0]}, {"id": "b", "vector": [0, 1]}]}
    assert served.rest("POST", "/v1/collections/films:upsert", json=items).status_code == 403
    assert served.admin_call("POST", "/v1/collections/films:upsert", json=items).status_code == 200
    hits = served.rest("POST", "/v1/collections/films:search", json={"vector": [0, 1], "k": 1})
    assert hits.status_code == 200 and hits.json()["hits"][0]["id"] == "b"
    assert served.rest("DELETE", "/v1/collections/films").status_code == 403
    with grpc.insecure_channel(served.server.grpc_target) as channel:
        stub = search_pb2_grpc.CollectionServiceStub(channel)
        auth = [("authorization", f"Bearer {DATA_TOKEN}")]
        with pytest.raises(grpc.RpcError) as caught:
            stub.DropCollection(search_pb2.CollectionRef(name="films"), metadata=auth, timeout=10)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "admin port" in (caught.value.details() or "")
        assert [
            c.name
            for c in stub.ListCollections(search_pb2.ListCollectionsRequest(), metadata=auth).collections
        ] == ["films"]
    assert served.admin_call("DELETE", "/v1/collections/films").status_code == 200


def test_unload_and_load_through_the_repository_api(served: Served) -> None:
    predict = {"instances": X}
    assert served.rest("POST", "/v1/models/mlp:predict", json=predict).status_code == 200
    assert served.rest("POST", "/v2/repository/models/mlp/unload").status_code == 403
    unloaded = served.admin_call("POST", "/v2/repository/models/mlp/unload")
    assert unloaded.status_code == 200 and unloaded.json() == {"name": "mlp", "unloaded": True}
    gone = served.rest("POST", "/v1/models/mlp:predict", json=predict)
    assert gone.status_code == 503 and "unloaded through the admin API" in gone.json()["error"]
    assert served.rest("GET", "/v1/models").json() == {"models": []}
    index = served.admin_call("POST", "/v2/repository/index").json()
    assert index[0]["name"] == "mlp" and index[0]["state"] == "UNAVAILABLE"
    loaded = served.admin_call("POST", "/v2/repository/models/mlp/load")
    assert loaded.status_code == 200 and loaded.json()["versions"] == ["1"]
    assert served.rest("POST", "/v1/models/mlp:predict", json=predict).status_code == 200


def test_reload(served: Served) -> None:
    answer = served.admin_call("POST", "/v1/admin/reload")
    assert answer.status_code == 200
    assert answer.json()["auth_tokens"] == {"reloaded": True, "tokens": 1}
    assert answer.json()["admin_tokens"] == {"reloaded": True, "tokens": 1}
    assert answer.json()["models"] == ["mlp"]


def test_moorings_collection_through_the_admin_port(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    from moorings.cli import main

    admin = ["collection", "--url", served.admin, "--token-file", str(served.root / "admin-tokens")]
    assert main([*admin, "create", "cli-films", "--dim", "2"]) == 0
    assert '"name": "cli-films"' in capsys.readouterr().out
    assert main(["collection", "--url", served.server.url, "drop", "cli-films"]) == 2
    assert "requires a token" in capsys.readouterr().err
    data = ["collection", "--url", served.server.url, "--token-file", str(served.root / "data-tokens")]
    assert main([*data, "drop", "cli-films"]) == 2
    assert "admin port" in capsys.readouterr().err
    assert main([*admin, "drop", "cli-films"]) == 0

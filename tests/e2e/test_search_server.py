"""Embedding search through a real server process: restart, kill -9 mid-ingest, concurrent
writers, the CLI through --url, and the PostgreSQL store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from moorings.protos import search_pb2 as pb
from moorings.protos import search_pb2_grpc as pb_grpc
from moorings.search.api import Search
from tests.support.server import running_server
from tests.support.vectors import clustered

pytestmark = pytest.mark.e2e

BATCH = 500


def _items(data: np.ndarray, start: int, end: int) -> list[dict[str, object]]:
    return [
        {"id": str(i), "vector": data[i].tolist(), "name": f"item {i}", "metadata": {"i": i}}
        for i in range(start, end)
    ]


def _reference_checksum(tmp_path: Path, data: np.ndarray, count: int) -> str:
    with Search(data_dir=tmp_path / "reference") as search:
        col = search.create("c", dim=data.shape[1])
        for start in range(0, count, BATCH):
            end = min(start + BATCH, count)
            ids = [str(i) for i in range(start, end)]
            col.upsert(
                ids,
                data[start:end],
                [f"item {i}" for i in range(start, end)],
                [{"i": i} for i in range(start, end)],
            )
        return col.checksum()


def test_search_after_restart_returns_the_same_results(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    data = clustered(3000, 32)
    args = ("--data-dir", str(tmp_path / "data"))
    queries = {"queries": [{"vector": v.tolist()} for v in data[:20]], "k": 10}
    with running_server(tmp_path / "repo", *args) as server:
        assert (
            httpx.post(
                f"{server.url}/v1/collections", json={"name": "c", "dim": 32, "index": "hnsw"}
            ).status_code
            == 201
        )
        for start in range(0, 3000, BATCH):
            r = httpx.post(
                f"{server.url}/v1/collections/c:upsert", json={"items": _items(data, start, start + BATCH)}
            )
            assert r.status_code == 200, r.text
        before = httpx.post(f"{server.url}/v1/collections/c:search", json=queries).json()
        by_name = httpx.post(
            f"{server.url}/v1/collections/c:search", json={"name": "ITEM 2999", "k": 3}
        ).json()
    with running_server(tmp_path / "repo", *args) as server:
        # ready means the stored collection is open already: no request pays for reading its index
        assert "opened 1 of 1 stored collection(s)" in server.log()
        assert httpx.get(f"{server.url}/v1/collections/c").json()["count"] == 3000
        assert httpx.post(f"{server.url}/v1/collections/c:search", json=queries).json() == before
        assert (
            httpx.post(f"{server.url}/v1/collections/c:search", json={"name": "ITEM 2999", "k": 3}).json()
            == by_name
        )


def test_kill_9_mid_ingest_keeps_whole_batches_and_reingest_converges(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    total = 12 * BATCH
    data = clustered(total, 32, seed=5)
    args = ("--data-dir", str(tmp_path / "data"))
    acked = 0
    with running_server(tmp_path / "repo", *args) as server:
        httpx.post(f"{server.url}/v1/collections", json={"name": "c", "dim": 32, "index": "hnsw"})
        killer_armed = threading.Event()

        def kill_when_armed() -> None:
            killer_armed.wait(60)
            server.process.kill()  # SIGKILL while a batch is in flight

        killer = threading.Thread(target=kill_when_armed)
        killer.start()
        with httpx.Client(timeout=60) as client:
            for n, start in enumerate(range(0, total, BATCH)):
                if n == 6:
                    threading.Timer(0.02, killer_armed.set).start()
                try:
                    r = client.post(
                        f"{server.url}/v1/collections/c:upsert",
                        json={"items": _items(data, start, start + BATCH)},
                    )
                except httpx.TransportError:
                    break
                assert r.status_code == 200
                acked += 1
        killer.join()
        server.process.wait()
    assert 6 <= acked < 12

    with Search(data_dir=tmp_path / "data") as search:  # the server is gone: open the folder directly
        count = search.collection("c").count()
        committed = count // BATCH
        assert count == committed * BATCH and committed in (acked, acked + 1)
        assert search.collection("c").checksum() == _reference_checksum(tmp_path / "r1", data, count)

    with running_server(tmp_path / "repo", *args) as server:  # run the whole ingest again
        for start in range(0, total, BATCH):
            r = httpx.post(
                f"{server.url}/v1/collections/c:upsert",
                json={"items": _items(data, start, start + BATCH)},
                timeout=60,
            )
            assert r.status_code == 200
    with Search(data_dir=tmp_path / "data") as search:
        assert search.collection("c").count() == total
        assert search.collection("c").checksum() == _reference_checksum(tmp_path / "r2", data, total)


def test_concurrent_writers_through_rest_leave_no_duplicates(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    data = clustered(2000, 16)
    # gRPC here is Moorings' own front end (tests/search covers the service on grpcio's)
    args = ("--data-dir", str(tmp_path / "data"), "--grpc-server", "moorings")
    with running_server(tmp_path / "repo", *args) as server:
        httpx.post(f"{server.url}/v1/collections", json={"name": "c", "dim": 16})
        failures: list[int] = []

        def writer(offset: int) -> None:
            with httpx.Client(timeout=60) as client:
                for start in range(0, 2000, 250):
                    s = (start + offset) % 2000
                    r = client.post(
                        f"{server.url}/v1/collections/c:upsert", json={"items": _items(data, s, s + 250)}
                    )
                    if r.status_code != 200:
                        failures.append(r.status_code)

        threads = [threading.Thread(target=writer, args=(o,)) for o in (0, 500, 1000, 1500)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        assert httpx.get(f"{server.url}/v1/collections/c").json()["count"] == 2000
        hits = httpx.post(
            f"{server.url}/v1/collections/c:search", json={"vector": data[0].tolist(), "k": 1000}
        ).json()["hits"]
        assert len(hits) == 1000 and len({h["id"] for h in hits}) == 1000
        with grpc.insecure_channel(server.grpc_target) as channel:  # the same collection over gRPC
            info = pb_grpc.CollectionServiceStub(channel).DescribeCollection(pb.CollectionRef(name="c"))
            assert (info.count, info.backend) == (2000, "faiss")


def test_cli_through_the_server_and_postgres_store(tmp_path: Path, postgres_url: str) -> None:
    from tests.support.postgres import fresh_database

    (tmp_path / "repo").mkdir()
    url = fresh_database(postgres_url, "e2e_cli")
    data = clustered(300, 8)
    np.save(tmp_path / "v.npy", data)
    (tmp_path / "names.txt").write_text("\n".join(f"Thing {i}" for i in range(300)) + "\n")
    (tmp_path / "meta.jsonl").write_text(
        "\n".join(json.dumps({"even": i % 2 == 0}) for i in range(300)) + "\n"
    )
    with running_server(tmp_path / "repo", "--search-store", url) as server:
        cli = [sys.executable, "-m", "moorings", "collection", "--url", server.url]

        def run(*args: str) -> dict[str, object]:
            result = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)  # type: ignore[no-any-return]

        files = ["--names", str(tmp_path / "names.txt"), "--metadata", str(tmp_path / "meta.jsonl")]
        report = run("ingest", "things", str(tmp_path / "v.npy"), *files, "--create", "--batch-size", "64")
        assert report["ingested"] == 300 and report["collection"]["backend"] == "pgvector"  # type: ignore[index]
        answer = run("search", "things", "--like", "thing 17", "-k", "5", "--filter", '{"even": true}')
        assert answer["matched"]["id"] == "17"  # type: ignore[index]
        assert len(answer["hits"]) == 5 and all(int(h["id"]) % 2 == 0 for h in answer["hits"])  # type: ignore[attr-defined, index]
        failed = subprocess.run([*cli, "search", "ghost", "--id", "1"], capture_output=True, text=True)
        assert failed.returncode == 2 and "no collection named 'ghost'" in failed.stderr
        run("drop", "things")
        assert run("list") == []  # type: ignore[comparison-overlap]

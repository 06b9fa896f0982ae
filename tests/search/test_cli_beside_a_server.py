"""`moorings collection` beside a running server that holds the data folder (issue 17's quick start):
the command finds the server through the folder's lock file and goes through it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from tests.support.server import running_server
from tests.support.vectors import clustered


def test_ingest_and_search_go_through_the_server_that_holds_the_folder(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    data_dir = tmp_path / "moorings-data"
    np.save(tmp_path / "v.npy", clustered(200, 8))
    (tmp_path / "names.txt").write_text("\n".join(f"Film {i}" for i in range(200)) + "\n")
    with running_server(tmp_path / "repo", "--data-dir", str(data_dir)) as server:
        # the README's order: the server creates the collection (and so takes the folder's lock)
        created = httpx.post(f"{server.url}/v1/collections", json={"name": "films", "dim": 8})
        assert created.status_code == 201
        cli = [sys.executable, "-m", "moorings", "collection", "--data-dir", str(data_dir)]
        names = ["--names", str(tmp_path / "names.txt")]
        ingest = subprocess.run(
            [*cli, "ingest", "films", str(tmp_path / "v.npy"), *names, "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ingest.returncode == 0, ingest.stderr
        assert f"held by the server at {server.url}; using it" in ingest.stderr
        assert json.loads(ingest.stdout)["ingested"] == 200
        # the server has the items now, without a restart
        described = httpx.get(f"{server.url}/v1/collections/films").json()
        assert described["count"] == 200
        search = subprocess.run(
            [*cli, "search", "films", "--like", "film 17", "-k", "3"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert search.returncode == 0, search.stderr
        assert json.loads(search.stdout)["matched"]["id"] == "17"
    # with the server gone the folder is free: the command works on it directly, and says nothing
    direct = subprocess.run([*cli, "describe", "films"], capture_output=True, text=True, timeout=60)
    assert direct.returncode == 0 and "held by" not in direct.stderr
    assert json.loads(direct.stdout)["count"] == 200

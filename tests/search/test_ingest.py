"""Reading embeddings from files, and the Python API built on the same service."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from moorings.errors import InvalidArgument
from moorings.search import ingest
from moorings.search.api import Search
from tests.support.vectors import clustered


def test_npy_csv_and_parquet_read_the_same_vectors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = clustered(20, 5)
    np.save(tmp_path / "v.npy", data)
    np.savetxt(tmp_path / "v.csv", data, delimiter=",", header="a,b,c,d,e", comments="")
    pq.write_table(pa.table({"id": list(range(20)), "vector": data.tolist()}), tmp_path / "v.parquet")
    pq.write_table(pa.table({f"c{i}": data[:, i] for i in range(5)}), tmp_path / "cols.parquet")
    for name in ("v.npy", "v.csv", "v.parquet", "cols.parquet"):
        assert np.allclose(ingest.read_vectors(tmp_path / name), data, atol=1e-6), name


def test_bad_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "v.txt").write_text("1,2")
    with pytest.raises(InvalidArgument, match="use \\.npy"):
        ingest.read_vectors(tmp_path / "v.txt")
    (tmp_path / "v.csv").write_text("1,2\n3,x\n")
    with pytest.raises(InvalidArgument, match="must be a number"):
        ingest.read_vectors(tmp_path / "v.csv")
    np.save(tmp_path / "flat.npy", np.zeros(4))
    with pytest.raises(InvalidArgument, match="2-D"):
        ingest.read_vectors(tmp_path / "flat.npy")
    (tmp_path / "m.jsonl").write_text('{"a": 1}\n[1]\n')
    with pytest.raises(InvalidArgument, match="line 2"):
        ingest.read_metadata(tmp_path / "m.jsonl")
    np.save(tmp_path / "v.npy", np.ones((3, 2)))
    (tmp_path / "names.txt").write_text("a\nb\n")
    with pytest.raises(InvalidArgument, match="3 vectors but 2 names"):
        ingest.load_source(tmp_path / "v.npy", names=tmp_path / "names.txt")


def test_python_api_without_a_server(tmp_path: Path) -> None:
    data = clustered(500, 8)
    names = [f"Item number {i}" for i in range(500)]
    with Search(data_dir=tmp_path) as search:
        col = search.create("things", dim=8, metric="l2")
        assert col.upsert(list(range(500)), data, names=names, metadata=[{"i": i} for i in range(500)]) == 500
        hits = col.search(data[3], k=3)
        assert hits[0]["id"] == "3" and hits[0]["name"] == "Item number 3"
        assert col.search(name="number 42", k=1)[0]["id"] != "42"
        assert [h["id"] for h in col.search(id="3", k=2)] == [h["id"] for h in hits[1:3]]
        filtered = col.search_many(data[:2], k=4, filter={"i": {"lt": 10}})
        assert all(int(h["id"]) < 10 for hits in filtered for h in hits) and len(filtered[0]) == 4
        checksum = col.checksum()
    with Search(data_dir=tmp_path) as search:
        assert search.collection("things").checksum() == checksum
        assert [c["name"] for c in search.list()] == ["things"]


def test_metadata_lines(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text(json.dumps({"a": 1}) + "\n\nnull\n")
    assert ingest.read_metadata(tmp_path / "m.jsonl") == [{"a": 1}, None, None]


def test_cli_reports_the_recall_a_reduction_costs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from moorings.cli import main

    np.save(tmp_path / "v.npy", clustered(2000, 48))
    base = ["collection", "--data-dir", str(tmp_path / "data")]
    assert main([*base, "create", "r", "--dim", "48", "--reduce-to", "16"]) == 0
    capsys.readouterr()
    assert main([*base, "ingest", "r", str(tmp_path / "v.npy"), "--no-progress", "--batch-size", "500"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ingested"] == 2000 and report["reduce_to"] == 16
    assert 0.5 < report["reduced_recall_at_10"] <= 1.0
    assert main([*base, "ingest", "missing", str(tmp_path / "v.npy")]) == 2
    assert "no collection named 'missing'" in capsys.readouterr().err

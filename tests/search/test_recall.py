"""recall@10 of the in-process ANN indexes against exact search, on clustered data, at defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.search.faiss_store import FaissBackend
from moorings.search.reduce import exact_neighbours, recall
from moorings.search.types import CollectionSpec
from moorings.search.validate import batch_from_arrays, normalise
from tests.support.vectors import clustered, queries_near

N, DIM = 20_000, 64


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return clustered(N, DIM, clusters=50), queries_near(clustered(N, DIM, clusters=50), 200)


def measure(
    tmp_path: Path, data: np.ndarray, queries: np.ndarray, metric: str, **spec: object
) -> tuple[float, str]:
    backend = FaissBackend(tmp_path, ann_threshold=10_000)
    store = backend.create(CollectionSpec(name="c", dim=DIM, metric=metric, **spec))  # type: ignore[arg-type]
    batch = batch_from_arrays([str(i) for i in range(N)], data, DIM, metric)  # type: ignore[arg-type]
    for start in range(0, N, 5000):  # several batches: the index grows like a real ingest
        part = slice(start, start + 5000)
        store.upsert(
            type(batch)(batch.ids[part], batch.vectors[part], batch.names[part], batch.metadata[part])
        )
    q = normalise(queries, metric)  # type: ignore[arg-type]
    truth = exact_neighbours(batch.vectors, q, 10, metric)
    found = np.array([[int(h.id) for h in hits] for hits in store.search(q, 10, None)])
    kind = str(store.describe()["index"])
    backend.close()
    return recall(found, truth), kind


@pytest.mark.parametrize(
    ("metric", "index"),
    [("cosine", "auto"), ("l2", "hnsw"), ("ip", "hnsw"), ("cosine", "ivf"), ("l2", "ivf"), ("ip", "ivf")],
)
def test_ann_recall_at_defaults(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], metric: str, index: str
) -> None:
    value, kind = measure(tmp_path, *data, metric, index=index)
    assert kind == ("hnsw" if index == "auto" else index)  # 20k items are above the auto threshold here
    assert value >= 0.95, f"{kind} {metric}: recall@10 {value:.3f}"


def test_reduced_index_reranks_exactly(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    value, _ = measure(tmp_path, *data, "cosine", index="flat", reduce_to=32)
    assert value >= 0.9, f"reduce_to=32 of 64: recall@10 {value:.3f}"


def test_the_measurement_can_fail(data: tuple[np.ndarray, np.ndarray]) -> None:
    """A deliberately starved index (1 of many IVF lists probed) scores well below the bar."""
    import faiss

    vectors, queries = data
    quantizer = faiss.IndexFlatL2(DIM)
    index = faiss.IndexIVFFlat(quantizer, DIM, 512)
    index.train(vectors)
    index.add(vectors)
    index.nprobe = 1
    _, found = index.search(queries, 10)
    assert recall(found, exact_neighbours(vectors, queries, 10, "l2")) < 0.9

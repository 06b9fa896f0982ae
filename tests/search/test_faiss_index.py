"""The FAISS index wrapper's search-effort rule (recall is measured in test_recall.py)."""

from __future__ import annotations

from moorings.search.faiss_index import HNSW_LARGE, hnsw_ef_search


def test_hnsw_search_effort_grows_with_the_index_and_k() -> None:
    assert hnsw_ef_search(10, 100_000) == 160
    assert hnsw_ef_search(10, HNSW_LARGE - 1) == 160
    assert hnsw_ef_search(10, HNSW_LARGE) == 384  # 1M x 128 clustered: recall@10 0.889 at 160, 0.965 at 384
    assert hnsw_ef_search(500, 1_000_000) == 1000

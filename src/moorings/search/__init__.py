"""Embedding search: collections of vectors served beside the models.

Layers, inward: ``rest/collections.py``, ``grpc_service.py``, ``cli_collection.py`` and
``api.py`` call :class:`moorings.search.service.Collections`, which validates requests and
calls one backend (:mod:`faiss_store` in-process, :mod:`pgvector_store` or :mod:`cube_store`
on PostgreSQL) through the protocols in :mod:`moorings.search.store`.
"""

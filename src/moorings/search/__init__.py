"""Embedding search: collections of vectors served beside the models.

Layers, inward: the front ends (``moorings.rest.collections`` and ``moorings.cli_collection``
through :mod:`json_api` and :mod:`json_codec`; ``moorings.grpc.search`` from protobuf; :mod:`api`
in Python) build typed requests (:mod:`types`, checked by :mod:`validate`) and call
:class:`moorings.search.service.Collections`, which calls one backend (:mod:`faiss_store`
in-process, :mod:`pgvector_store` or :mod:`cube_store` on PostgreSQL) through the protocols in
:mod:`moorings.search.store`. Nothing here imports the server's front ends, its model repository or
its dataplane.
"""

"""Inputs by reference: ``{"url": "s3://bucket/key"}`` and presigned https URLs, fetched by the server.

``references`` finds the ``{"url": ...}`` values of a parsed JSON body; ``urls``
reads the URLs; ``allowlist`` says which the operator allows (pure);
``s3`` and ``http`` fetch; ``resolver`` runs the fetches of one request off the
event loop and puts the bytes where the references were.
"""

"""Observability: Prometheus metrics (``metrics``) and request ids and access logs (``logs``)."""

"""Credentials: token files (``tokens``), the REST check (``rest``) and the gRPC gate (``grpc_gate``)."""

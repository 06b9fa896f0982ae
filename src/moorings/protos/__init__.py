"""Protocol buffers of Moorings' own gRPC services; regenerate with scripts/gen_search_protos.sh."""

#!/bin/sh
# Regenerate the Python modules of src/moorings/protos/search.proto (committed; run after editing it).
# Needs grpcio-tools 1.81.x in the venv (works with protobuf 6.33): pip install "grpcio-tools==1.81.*"
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
$PY -m grpc_tools.protoc -Isrc --python_out=src --pyi_out=src --grpc_python_out=src src/moorings/protos/search.proto

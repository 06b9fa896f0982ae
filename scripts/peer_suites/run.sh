#!/usr/bin/env bash
# Run Triton's and TF Serving's own tests against Moorings, in a scratch folder.
#
#   scripts/peer_suites/run.sh SCRATCH [run_all.py options...]
#
# SCRATCH/triton-server and SCRATCH/tf-serving are checkouts of
# github.com/triton-inference-server/server and github.com/tensorflow/serving;
# when absent they are cloned (--depth 1). Nothing of theirs enters this
# repository: generated models, the repository and results stay in SCRATCH.
# Uses the Python of $PYTHON (default: the worktree's .venv) with onnx,
# onnxruntime, tensorflow, tensorflow-serving-api and tritonclient installed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="${1:?usage: run.sh SCRATCH [run_all.py options]}"
shift
python="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"

[ -d "$scratch/triton-server/qa" ] || git clone --depth 1 https://github.com/triton-inference-server/server "$scratch/triton-server"
[ -d "$scratch/tf-serving/tensorflow_serving" ] || git clone --depth 1 https://github.com/tensorflow/serving "$scratch/tf-serving"

qa="$scratch/triton-server/qa"
testdata="$scratch/tf-serving/tensorflow_serving/servables/tensorflow/testdata"
gen="$scratch/generated"

# Triton's own generators, ONNX only (no TensorRT, PyTorch or OpenVINO); opset 13 so that
# onnxruntime reads the graphs once build_repository.py lowers the IR version
if [ ! -d "$gen/qa_identity_model_repository" ]; then
    mkdir -p "$gen/qa_model_repository" "$gen/qa_identity_model_repository"
    (cd "$qa/common" &&
        "$python" gen_qa_models.py --onnx --onnx_opset=13 --models_dir="$gen/qa_model_repository" &&
        "$python" gen_qa_identity_models.py --onnx --onnx_opset=13 --models_dir="$gen/qa_identity_model_repository") \
        > "$scratch/generate.log" 2>&1
fi

"$python" "$here/build_repository.py" --generated "$gen" \
    --triton-examples "$scratch/triton-server/docs/examples/model_repository" \
    --triton-qa "$qa" --tfs-testdata "$testdata" --out "$scratch/repo"

"$python" "$here/run_all.py" --triton-qa "$qa" --repo "$scratch/repo" --work "$scratch/work" \
    --tfs-testdata "$testdata" --moorings "$(dirname "$python")/moorings" "$@"

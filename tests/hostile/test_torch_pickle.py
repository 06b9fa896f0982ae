"""A ``model.pt2`` is not loaded without ``--allow-unsafe-pickle``: torch.export.load can run its pickles.

The hostile archive is a real exported program whose sample-inputs entry is replaced by
a pickle that creates a marker file. torch.export.load reads that entry with
``weights_only=True`` and, when that fails, again with ``weights_only=False``: the
second test shows the pickle runs (the reason for the opt-in), the first that Moorings
never gets that far without the operator's consent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moorings.config import RuntimeOptions
from moorings.errors import LoadError

torch = pytest.importorskip("torch")
from moorings.runtimes.torch_export import TorchExportRuntime  # noqa: E402
from tests.support import torch_models  # noqa: E402


def hostile_version(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "1"
    archive = torch_models.export(torch_models.Pair(), (torch.ones(2, 3),), folder)
    marker = tmp_path / "code-ran"
    torch_models.with_hostile_sample_inputs(archive, marker)
    return folder, marker


def test_refused_and_not_unpickled_by_default(tmp_path: Path) -> None:
    folder, marker = hostile_version(tmp_path)
    with pytest.raises(LoadError, match="--allow-unsafe-pickle"):
        TorchExportRuntime(folder, RuntimeOptions()).load()
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_torch_export_load_runs_the_archives_pickle(tmp_path: Path) -> None:
    folder, marker = hostile_version(tmp_path)
    with pytest.raises(LoadError):  # the load fails, after the pickle ran
        TorchExportRuntime(folder, RuntimeOptions(allow_unsafe_pickle=True)).load()
    assert marker.exists()

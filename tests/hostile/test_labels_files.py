"""Bad labels files in a new version: the load fails with a clear status error, the old version
keeps serving, and no server path shows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.core.labels import MAX_LABELS
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.repository.source import LocalSource
from moorings.types import ModelRef, VersionState
from tests.support import onnx_models

X = np.ones((2, 4), np.float32)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    onnx_models.write_mlp(root / "mlp" / "1", seed=1)
    (root / "mlp" / "1" / "labels.txt").write_text("cat\ndog\nbird\n")
    return root


@pytest.fixture
def manager(repo: Path) -> Iterator[Manager]:
    m = Manager(LocalSource(repo), Loader(repo))
    m.poll_once()
    assert m.wait_until_idle(30)
    yield m
    m.stop()


def _too_many(folder: Path, outside: Path) -> None:
    (folder / "labels.txt").write_bytes(b"x\n" * (MAX_LABELS + 1))


def _not_utf8(folder: Path, outside: Path) -> None:
    (folder / "assets").mkdir()
    (folder / "assets" / "labels.txt").write_bytes(b"cat\n\xc3\x28\n")


def _linked_out(folder: Path, outside: Path) -> None:
    (outside / "labels.txt").write_text("secret\n")
    (folder / "labels.txt").symlink_to(outside / "labels.txt")


def _bad_json(folder: Path, outside: Path) -> None:
    (folder / "labels.json").write_text('{"cat": 0}')


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_too_many, f"labels.txt holds {MAX_LABELS + 1} labels; at most {MAX_LABELS} are allowed"),
        (_not_utf8, "assets/labels.txt is not UTF-8 text (bad byte at offset 4)"),
        (
            _linked_out,
            "the version folder holds links that leave the model repository or are broken: labels.txt",
        ),
        (_bad_json, "labels.json must be a JSON list of strings (one class name per index)"),
    ],
)
def test_a_bad_labels_file_fails_the_load_and_the_old_version_serves(
    manager: Manager, repo: Path, tmp_path: Path, make: Callable[[Path, Path], None], message: str
) -> None:
    folder = repo / "mlp" / "2"
    onnx_models.write_mlp(folder, seed=2)
    outside = tmp_path / "outside"
    outside.mkdir()
    make(folder, outside)
    manager.poll_once()
    assert manager.wait_until_idle(30)
    states = {v.version: v for v in manager.status(ModelRef("mlp")).versions}
    assert states[1].state is VersionState.AVAILABLE
    assert states[2].state is VersionState.END
    assert states[2].error == message
    assert str(tmp_path) not in (states[2].error or "")
    with manager.acquire(ModelRef("mlp")) as servable:
        assert servable.id.version == 1
        assert servable.classes is not None and servable.classes.names == ("cat", "dog", "bird")


def test_classes_output_that_no_signature_has_fails_the_load(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "other" / "1")
    (repo / "other" / "model.toml").write_text('[classes]\noutput = "logits"\n')
    manager.poll_once()
    assert manager.wait_until_idle(30)
    (status,) = manager.status(ModelRef("other")).versions
    assert status.state is VersionState.END
    assert status.error == "model.toml [classes] output names 'logits', which no signature outputs"

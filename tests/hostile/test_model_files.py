"""Issue 20 #12, #13: model files linked out of the repository, and paths in load errors."""

import re
import shutil
from pathlib import Path

import pytest

from moorings.core.manager import Manager
from moorings.errors import Unavailable
from moorings.types import ModelRef, VersionState, VersionStatus
from tests.support import onnx_models


def _statuses(m: Manager, name: str) -> list[VersionStatus]:
    m.poll_once()
    assert m.wait_until_idle(30)
    return m.status(ModelRef(name)).versions


def test_a_model_file_linked_out_of_the_repository_is_not_loaded(
    manager: Manager, repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    onnx_models.write_mlp(outside)
    (repo / "mlp" / "1").mkdir(parents=True)
    (repo / "mlp" / "1" / "model.onnx").symlink_to(outside / "model.onnx")
    (status,) = _statuses(manager, "mlp")
    assert status.state is VersionState.END
    assert status.error == (
        "the version folder holds links that leave the model repository or are broken: model.onnx"
    )


def test_onnx_external_data_errors_show_no_server_path(manager: Manager, repo: Path, tmp_path: Path) -> None:
    locations = {1: "../../etc/passwd", 2: "../../../../../../../../../../etc/passwd"}
    for v, location in locations.items():
        onnx_models.write_mlp(repo / "mlp" / str(v))
        onnx_models.point_initializer_at(repo / "mlp" / str(v) / "model.onnx", "w1", location)
    (repo / "mlp" / "model.toml").write_text('[versions]\npolicy = "all"\n')
    statuses = _statuses(manager, "mlp")
    assert [s.state for s in statuses] == [VersionState.END, VersionState.END]
    for status in statuses:
        assert status.error and "climbs out with '..'" in status.error  # runtimes/onnx_external.py
        shown = status.error.replace(locations[status.version], "")
        assert "tensor 'w1'" in shown and str(tmp_path) not in shown
        assert re.search(r"[\"\s=]/", shown) is None, shown  # no absolute path


def test_model_toml_linked_out_of_the_repository_is_not_read(
    manager: Manager, repo: Path, tmp_path: Path
) -> None:
    onnx_models.write_mlp(repo / "mlp" / "1")
    (repo / "mlp" / "model.toml").symlink_to("/etc/passwd")
    expected = (
        "model 'mlp' is not served: model.toml is a link that leaves the model repository (or is broken)"
    )
    with pytest.raises(Unavailable) as info:
        _statuses(manager, "mlp")
    assert info.value.message == expected
    # a link to a valid model.toml outside is refused the same way
    outside = tmp_path / "model.toml"
    outside.write_text("[versions]\nlatest = 2\n")
    (repo / "mlp" / "model.toml").unlink()
    (repo / "mlp" / "model.toml").symlink_to(outside)
    with pytest.raises(Unavailable, match=r"model\.toml is a link"):
        _statuses(manager, "mlp")
    # a link inside the repository is read
    shutil.copy(outside, repo / "shared.toml")
    (repo / "mlp" / "model.toml").unlink()
    (repo / "mlp" / "model.toml").symlink_to(repo / "shared.toml")
    assert [s.state for s in _statuses(manager, "mlp")] == [VersionState.AVAILABLE]

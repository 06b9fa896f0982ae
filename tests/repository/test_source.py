import os
from pathlib import Path

import pytest

from moorings.errors import LoadError
from moorings.repository.base import Source
from moorings.repository.source import LocalSource
from tests.support import onnx_models


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for v in (1, 2, 3):
        onnx_models.write_mlp(root / "mlp" / str(v), seed=v)
    return root


def test_local_source_is_a_source(repo: Path) -> None:
    assert isinstance(LocalSource(repo), Source)


def test_scan_reports_the_versions_the_policy_selects(repo: Path) -> None:
    (repo / "mlp" / "model.toml").write_text("[versions]\nlatest = 2\n")
    (model,) = LocalSource(repo).scan().values()
    assert model.name == "mlp" and model.config is not None
    assert sorted(model.versions) == [2, 3]
    assert model.present == (1, 2, 3)
    assert model.versions[3].version == 3
    assert Path(model.versions[3].location) == (repo / "mlp" / "3").resolve()


def test_non_integer_folders_are_reported_and_logged_once(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("v1", "1.0", "latest"):
        onnx_models.write_mlp(repo / "m" / name)
    (repo / "m" / ".tmp-4").mkdir()
    source = LocalSource(repo)
    with caplog.at_level("WARNING", logger="moorings.repository.source"):
        model = source.scan()["m"]
        source.scan()
    assert (model.present, model.versions, model.ignored) == ((), {}, ("1.0", "latest", "v1"))
    lines = [r.getMessage() for r in caplog.records if "'m'" in r.getMessage()]
    assert lines == [
        "model 'm': ignoring folder(s) '1.0', 'latest', 'v1': "
        "a version folder is named by an integer (e.g. 1/)"
    ]


def test_a_change_to_model_toml_changes_every_fingerprint(repo: Path) -> None:
    source = LocalSource(repo)
    before = source.scan()["mlp"].versions[3].fingerprint
    assert source.scan()["mlp"].versions[3].fingerprint == before
    (repo / "mlp" / "model.toml").write_text('[runtime]\ntrusted_types = ["x.Y"]\n')
    assert source.scan()["mlp"].versions[3].fingerprint != before


def test_an_invalid_model_toml_is_a_config_error(repo: Path) -> None:
    (repo / "mlp" / "model.toml").write_text('[versions]\npolicy = "newest"\n')
    model = LocalSource(repo).scan()["mlp"]
    assert model.config is None and model.versions == {}
    assert model.config_error == "versions.policy must be latest, all or specific, got 'newest'"


def test_model_toml_must_be_a_small_regular_file(repo: Path) -> None:
    (repo / "mlp" / "model.toml").mkdir()
    assert LocalSource(repo).scan()["mlp"].config_error == "model.toml is not a regular file"
    (repo / "mlp" / "model.toml").rmdir()
    os.mkfifo(repo / "mlp" / "model.toml")  # reading it would block the scan forever
    assert LocalSource(repo).scan()["mlp"].config_error == "model.toml is not a regular file"
    (repo / "mlp" / "model.toml").unlink()
    (repo / "mlp" / "model.toml").write_text("#" * (1024 * 1024 + 1))
    assert "larger than" in (LocalSource(repo).scan()["mlp"].config_error or "")


def test_version_folder_hands_over_a_checked_folder(repo: Path) -> None:
    source = LocalSource(repo)
    spec = source.scan()["mlp"].versions[3]
    assert source.version_folder("mlp", spec) == (repo / "mlp" / "3").resolve()


def test_a_model_file_linked_out_of_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    onnx_models.write_mlp(outside)
    (repo / "mlp" / "3" / "model.onnx").unlink()
    (repo / "mlp" / "3" / "model.onnx").symlink_to(outside / "model.onnx")
    source = LocalSource(repo)
    with pytest.raises(LoadError) as info:
        source.version_folder("mlp", source.scan()["mlp"].versions[3])
    assert info.value.message == (
        "the version folder holds links that leave the model repository or are broken: model.onnx"
    )
    assert str(tmp_path) not in info.value.message


def test_links_inside_the_repository_are_followed_and_checked(repo: Path, tmp_path: Path) -> None:
    shared = repo / ".shared"
    shared.mkdir()
    (shared / "weights.bin").symlink_to("/etc/passwd")
    (repo / "mlp" / "3" / "assets").symlink_to(shared)
    (repo / "mlp" / "3" / "loop").symlink_to(repo / "mlp" / "3")
    source = LocalSource(repo)
    spec = source.scan()["mlp"].versions[3]
    with pytest.raises(LoadError, match=r"assets/weights\.bin"):
        source.version_folder("mlp", spec)
    (shared / "weights.bin").unlink()
    (shared / "weights.bin").write_bytes(b"ok")
    assert source.version_folder("mlp", spec) == (repo / "mlp" / "3").resolve()

"""The manager says why a model serves nothing, and retries when the cause is fixed."""

import logging
import shutil
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from moorings.core.manager import Manager
from moorings.errors import NotFound, Unavailable
from moorings.types import ModelRef, VersionState, VersionStatus
from tests.support import onnx_models, sklearn_models
from tests.support.managed import poll


def _statuses(m: Manager, name: str) -> list[VersionStatus]:
    return m.status(ModelRef(name)).versions


def test_fixing_trusted_types_in_model_toml_retries_the_failed_load(manager: Manager, repo: Path) -> None:
    x, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    sklearn_models.write_skops(forest, repo / "rf" / "1")
    poll(manager)
    (status,) = _statuses(manager, "rf")
    assert status.state is VersionState.END
    assert status.error and "sklearn.tree._tree.Tree" in status.error and "trusted_types" in status.error
    (repo / "rf" / "model.toml").write_text('[runtime]\ntrusted_types = ["sklearn.tree._tree.Tree"]\n')
    poll(manager)
    assert [(s.version, s.state) for s in _statuses(manager, "rf")] == [(1, VersionState.AVAILABLE)]
    with manager.acquire(ModelRef("rf")) as servable:
        assert servable.id.version == 1


def test_a_model_without_integer_folders_says_it_has_no_version_folder(manager: Manager, repo: Path) -> None:
    for name in ("v1", "1.0", "latest"):
        onnx_models.write_mlp(repo / "m" / name)
    poll(manager)
    expected = (
        "model 'm' has no version folder: a version is a folder named by an integer, e.g. m/1/; "
        "ignored: '1.0', 'latest', 'v1'"
    )
    with pytest.raises(NotFound) as acquired:
        manager.acquire(ModelRef("m"))
    assert acquired.value.message == expected
    with pytest.raises(NotFound) as status:
        manager.status(ModelRef("m"))
    assert status.value.message == expected
    assert manager.is_ready()
    # renaming a folder to an integer serves it
    (repo / "m" / "v1").rename(repo / "m" / "1")
    poll(manager)
    assert [(s.version, s.state) for s in _statuses(manager, "m")] == [(1, VersionState.AVAILABLE)]


def test_a_policy_that_selects_nothing_says_so(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "m" / "1")
    (repo / "m" / "model.toml").write_text('[versions]\npolicy = "specific"\nspecific = [5]\n')
    poll(manager)
    with pytest.raises(NotFound, match=r"selects none of the versions present \(1\)"):
        manager.acquire(ModelRef("m"))


def test_an_invalid_model_toml_on_a_new_model_is_reported(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "badtoml" / "1")
    (repo / "badtoml" / "model.toml").write_text('[versions]\npolicy = "newest"\n')
    poll(manager)
    expected = "model 'badtoml' is not served: versions.policy must be latest, all or specific, got 'newest'"
    for call in (manager.acquire, manager.status):
        with pytest.raises(Unavailable) as info:
            call(ModelRef("badtoml"))
        assert info.value.message == expected
    (repo / "badtoml" / "model.toml").write_text('[versions]\npolicy = "all"\n')
    poll(manager)
    assert [(s.version, s.state) for s in _statuses(manager, "badtoml")] == [(1, VersionState.AVAILABLE)]


def test_a_label_on_an_unserved_version_is_logged_and_in_the_status(
    manager: Manager, repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for v in (1, 2):
        onnx_models.write_mlp(repo / "mlp" / str(v), seed=v)
    (repo / "mlp" / "model.toml").write_text("[labels]\nstable = 1\ncanary = 2\n")
    with caplog.at_level(logging.WARNING, logger="moorings.core.manager"):
        poll(manager)
        poll(manager)
    expected = (
        "label 'stable' points at version 1, which is not served (the version policy serves: 2); "
        'to keep a version for rollback, serve it with [versions] latest = N, policy = "all" or '
        'policy = "specific"'
    )
    assert [r.getMessage() for r in caplog.records] == [f"model mlp: {expected}"]
    statuses = _statuses(manager, "mlp")
    assert [(s.version, s.state, s.error) for s in statuses] == [
        (2, VersionState.AVAILABLE, None),
        (1, VersionState.END, expected),
    ]
    (labelled,) = manager.status(ModelRef("mlp", label="stable")).versions
    assert labelled.error == expected
    with pytest.raises(NotFound, match="label 'stable' points at it, but the version policy does not serve"):
        manager.acquire(ModelRef("mlp", label="stable"))
    # label-based rollback: keep the previous version served
    (repo / "mlp" / "model.toml").write_text("[versions]\nlatest = 2\n[labels]\nstable = 1\ncanary = 2\n")
    poll(manager)
    with manager.acquire(ModelRef("mlp", label="stable")) as servable:
        assert servable.id.version == 1


def test_a_folder_with_two_runtimes_model_files_is_refused(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "mlp" / "1")
    shutil.copy(repo / "mlp" / "1" / "model.onnx", repo / "mlp" / "1" / "model.keras")
    poll(manager)
    (status,) = _statuses(manager, "mlp")
    assert status.error == (
        "the version folder holds model files for more than one runtime (model.keras, model.onnx); "
        'say which to serve in model.toml: [runtime] name = "keras" or "onnx"'
    )
    (repo / "mlp" / "model.toml").write_text('[runtime]\nname = "onnx"\n')
    poll(manager)
    assert [s.state for s in _statuses(manager, "mlp")] == [VersionState.AVAILABLE]

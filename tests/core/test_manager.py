import shutil
from pathlib import Path

import numpy as np
import pytest

from moorings.core.manager import Manager
from moorings.errors import InvalidArgument, NotFound, Unavailable
from moorings.types import ModelRef, VersionState
from tests.support import onnx_models
from tests.support.managed import poll

X = np.ones((1, 4), np.float32)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    onnx_models.write_mlp(tmp_path / "mlp" / "1", seed=1)
    return tmp_path


def _states(m: Manager, name: str) -> dict[int, VersionState]:
    return {v.version: v.state for v in m.status(ModelRef(name)).versions}


def _predict(m: Manager, ref: ModelRef) -> tuple[int, np.ndarray]:
    with m.acquire(ref) as servable:
        sig = servable.signature(None)
        return servable.id.version, servable.predict(sig, {"x": X})["probabilities"]


def test_new_version_replaces_old_after_it_is_available(manager: Manager, repo: Path) -> None:
    poll(manager)
    assert _states(manager, "mlp") == {1: VersionState.AVAILABLE}
    mlp2 = onnx_models.write_mlp(repo / "mlp" / "2", seed=2)
    poll(manager)
    version, out = _predict(manager, ModelRef("mlp"))
    assert version == 2
    np.testing.assert_allclose(out, mlp2(X), rtol=1e-5)
    assert _states(manager, "mlp") == {2: VersionState.AVAILABLE}


def test_broken_version_never_replaces_a_good_one(manager: Manager, repo: Path) -> None:
    poll(manager)
    (repo / "mlp" / "2").mkdir()
    (repo / "mlp" / "2" / "model.onnx").write_bytes(b"not a model")
    poll(manager)
    states = manager.status(ModelRef("mlp")).versions
    assert [(s.version, s.state) for s in states] == [(2, VersionState.END), (1, VersionState.AVAILABLE)]
    assert states[0].error and "ONNX Runtime" in states[0].error
    assert str(repo) not in states[0].error
    assert _predict(manager, ModelRef("mlp"))[0] == 1
    with pytest.raises(Unavailable, match="failed to load"):
        manager.acquire(ModelRef("mlp", version=2))
    # fixing the files retries the load
    shutil.rmtree(repo / "mlp" / "2")
    onnx_models.write_mlp(repo / "mlp" / "2", seed=2)
    poll(manager)
    assert _states(manager, "mlp") == {2: VersionState.AVAILABLE}


def test_in_flight_handle_keeps_the_old_version_alive(manager: Manager, repo: Path) -> None:
    poll(manager)
    handle = manager.acquire(ModelRef("mlp"))
    onnx_models.write_mlp(repo / "mlp" / "2", seed=2)
    poll(manager)
    assert _states(manager, "mlp")[1] is VersionState.UNLOADING
    servable = handle.servable
    servable.predict(servable.signature(None), {"x": X})  # still usable
    handle.release()
    handle.release()  # idempotent
    assert manager.wait_until_idle(10)
    assert _states(manager, "mlp") == {2: VersionState.AVAILABLE}


def test_policy_labels_and_removal(manager: Manager, repo: Path) -> None:
    for v in (2, 3):
        onnx_models.write_mlp(repo / "mlp" / str(v), seed=v)
    (repo / "mlp" / "model.toml").write_text(
        '[versions]\npolicy = "specific"\nspecific = [1, 3]\n[labels]\nstable = 1\ncanary = 3\n'
    )
    poll(manager)
    assert _states(manager, "mlp") == {3: VersionState.AVAILABLE, 1: VersionState.AVAILABLE}
    assert _predict(manager, ModelRef("mlp", label="stable"))[0] == 1
    assert _predict(manager, ModelRef("mlp", label="canary"))[0] == 3
    with pytest.raises(NotFound, match="no label 'beta'"):
        manager.acquire(ModelRef("mlp", label="beta"))
    with pytest.raises(NotFound, match="no version 2"):
        manager.acquire(ModelRef("mlp", version=2))
    shutil.rmtree(repo / "mlp")
    poll(manager)
    with pytest.raises(NotFound, match="not served"):
        manager.status(ModelRef("mlp"))


def test_all_versions_policy_and_latest_n(manager: Manager, repo: Path) -> None:
    for v in (2, 3):
        onnx_models.write_mlp(repo / "mlp" / str(v), seed=v)
    (repo / "mlp" / "model.toml").write_text("[versions]\nlatest = 2\n")
    poll(manager)
    assert set(_states(manager, "mlp")) == {2, 3}
    (repo / "mlp" / "model.toml").write_text('[versions]\npolicy = "all"\n')
    poll(manager)
    assert set(_states(manager, "mlp")) == {1, 2, 3}


def test_invalid_model_toml_keeps_current_versions(manager: Manager, repo: Path) -> None:
    poll(manager)
    (repo / "mlp" / "model.toml").write_text("[versions\n")
    onnx_models.write_mlp(repo / "mlp" / "2", seed=2)
    poll(manager)
    assert _states(manager, "mlp") == {1: VersionState.AVAILABLE}


def test_an_invalid_model_toml_is_named_in_the_status_until_fixed(manager: Manager, repo: Path) -> None:
    poll(manager)
    assert manager.status(ModelRef("mlp")).config_error is None
    assert manager.config_errors() == {}
    (repo / "mlp" / "model.toml").write_text("[versions\n")
    poll(manager)
    error = manager.status(ModelRef("mlp")).config_error
    assert error is not None and "model.toml is not valid TOML" in error
    assert manager.config_errors() == {"mlp": error}
    (repo / "mlp" / "model.toml").write_text("[versions]\nlatest = 1\n")
    poll(manager)
    assert manager.status(ModelRef("mlp")).config_error is None
    assert manager.config_errors() == {}


def test_ignored_folders_and_names(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "mlp" / ".tmp-5", seed=5)
    onnx_models.write_mlp(repo / "mlp" / "6.partial", seed=6)
    onnx_models.write_mlp(repo / "bad name" / "1")
    onnx_models.write_mlp(repo / ".hidden" / "1")
    poll(manager)
    assert manager.model_names() == ["mlp"]
    assert _states(manager, "mlp") == {1: VersionState.AVAILABLE}
    with pytest.raises(InvalidArgument, match="invalid model name"):
        manager.acquire(ModelRef("../etc"))


def test_symlink_leaving_the_repository_is_ignored(manager: Manager, repo: Path, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path_factory.mktemp("outside")
    onnx_models.write_mlp(outside / "1")
    (repo / "escape").symlink_to(outside)
    (repo / "mlp" / "7").symlink_to(outside / "1")
    poll(manager)
    assert manager.model_names() == ["mlp"]
    assert _states(manager, "mlp") == {1: VersionState.AVAILABLE}


def test_unknown_model_file_is_a_load_error(manager: Manager, repo: Path) -> None:
    (repo / "empty" / "1").mkdir(parents=True)
    (repo / "empty" / "1" / "README").write_text("nothing")
    poll(manager)
    (status,) = manager.status(ModelRef("empty")).versions
    assert status.state is VersionState.END
    assert status.error and "no model file" in status.error
    with pytest.raises(Unavailable, match="no model file"):
        manager.acquire(ModelRef("empty"))

"""Input declarations matched to a version's signatures when it loads (real Loader, real ONNX
models): what clients see, and the load errors that name the model.toml key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.errors import Unavailable
from moorings.repository.source import LocalSource
from moorings.types import ModelRef, VersionState
from tests.support import images, onnx_models
from tests.support.managed import poll


def _error(m: Manager, name: str) -> str:
    (status,) = m.status(ModelRef(name)).versions
    assert status.state is VersionState.END and status.error is not None
    return status.error


def test_a_declared_image_input_shows_as_bytes_and_runs_as_pixels(manager: Manager, repo: Path) -> None:
    model = images.write_image_model(repo / "photos" / "1")
    (repo / "photos" / "model.toml").write_text(images.image_toml())
    poll(manager)
    with manager.acquire(ModelRef("photos")) as servable:
        signature = servable.signature(None)
        assert signature.inputs["image"].dtype.name == "string"
        assert signature.inputs["image"].shape == (-1,)
        assert signature.outputs == servable.runtime.signatures["serving_default"].outputs
        png = images.encode(images.photo(), "PNG")
        values = np.empty(1, dtype=object)
        values[0] = png
        outputs = servable.predict(signature, {"image": values})  # the unbatched path
    want = model.run(images.reference_tensor([png], **images.NORMALISATION))
    np.testing.assert_allclose(outputs["probabilities"], want["probabilities"], rtol=1e-5)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[inputs.picture]\nkind = "image"',
            "model.toml declares [inputs.picture], but no signature has an input",
        ),
        ('[inputs.image]\nkind = "image"\nsize = [8, 8]', "size = [8, 8] (height, width) does not fit"),
        ('[inputs.image]\nkind = "image"\nlayout = "NCHW"', "check channels and layout"),
        (
            '[inputs.image]\nkind = "image"\ndtype = "uint8"',
            "dtype is 'uint8' but the model's input 'image' holds",
        ),
    ],
)
def test_a_declaration_that_does_not_fit_fails_the_load_naming_it(
    manager: Manager, repo: Path, toml: str, message: str
) -> None:
    images.write_image_model(repo / "photos" / "1")
    (repo / "photos" / "model.toml").write_text(toml)
    poll(manager)
    assert message in _error(manager, "photos")


def test_an_invalid_declaration_is_a_model_toml_error(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "mlp" / "1")
    (repo / "mlp" / "model.toml").write_text('[inputs.x]\nkind = "image"\nresize = "squash"\n')
    poll(manager)
    with pytest.raises(Unavailable) as info:
        manager.status(ModelRef("mlp"))
    assert "model 'mlp' is not served: inputs.x.resize must be one of 'stretch'" in info.value.message


def test_a_number_input_cannot_be_an_image(manager: Manager, repo: Path) -> None:
    onnx_models.write_mlp(repo / "mlp" / "1")
    (repo / "mlp" / "model.toml").write_text('[inputs.x]\nkind = "image"\n')
    poll(manager)
    assert "has shape [-1, 4]; an image input has 4 dimensions" in _error(manager, "mlp")


def test_a_table_without_a_kind_is_refused_on_a_model_that_is_not_python(
    manager: Manager, repo: Path
) -> None:
    onnx_models.write_mlp(repo / "mlp" / "1")
    (repo / "mlp" / "model.toml").write_text('[inputs.x]\ndtype = "float32"\nshape = [-1, 4]\n')
    poll(manager)
    error = _error(manager, "mlp")
    assert "model.toml [inputs.x] declares a tensor, which only a Python model (model.py) does" in error


def test_a_python_model_gets_decoded_images(tmp_path: Path) -> None:
    """A model.py whose [inputs.image] table declares its signature (dtype, shape) and an image kind:
    its predict gets the batch of decoded pixels."""
    repo = tmp_path / "pyrepo"
    version = repo / "pixels" / "1"
    version.mkdir(parents=True)
    (version / "model.py").write_text(
        "class Pixels:\n"
        "    def predict(self, batch):\n"
        "        return {'mean': batch['image'].mean(axis=(1, 2))}\n"
    )
    (repo / "pixels" / "model.toml").write_text(
        '[inputs.image]\nkind = "image"\ndtype = "float32"\nshape = [-1, 12, 16, 3]\n'
        '[outputs.mean]\ndtype = "float32"\nshape = [-1, 3]\n'
    )
    manager = Manager(LocalSource(repo), Loader(repo, allow_python_models=True))
    try:
        poll(manager)
        with manager.acquire(ModelRef("pixels")) as servable:
            signature = servable.signature(None)
            assert signature.inputs["image"].dtype.name == "string"
            png = images.encode(images.photo(), "PNG")
            values = np.empty(1, dtype=object)
            values[0] = png
            outputs = servable.predict(signature, {"image": values})
    finally:
        manager.stop()
    want = images.reference_tensor([png]).mean(axis=(1, 2))
    np.testing.assert_allclose(outputs["mean"], want, rtol=1e-6)

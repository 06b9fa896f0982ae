"""Importing model.py: a module per load, the model class picked by one rule, errors without paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorings.errors import LoadError
from moorings.runtimes.python_import import forget, import_file, model_class
from tests.support import python_models


def test_each_load_is_a_new_module_running_the_file_as_it_is_now(tmp_path: Path) -> None:
    folder = python_models.write(tmp_path / "m" / "1", "VALUE = 1\n")
    first = import_file(folder / "model.py")
    (folder / "model.py").write_text("VALUE = 2\n")  # same size, same second: no stale bytecode
    second = import_file(folder / "model.py")
    assert (first.VALUE, second.VALUE) == (1, 2)
    assert first.__name__ != second.__name__
    assert not list(folder.glob("__pycache__"))  # nothing written into the repository
    forget(first)
    forget(second)


def test_a_syntax_error_names_the_line_not_the_path(tmp_path: Path) -> None:
    folder = python_models.write(tmp_path / "m" / "1", "x = 1\ndef f(:\n")
    with pytest.raises(LoadError) as error:
        import_file(folder / "model.py")
    assert error.value.message.startswith("model.py line 2: ")
    assert str(tmp_path) not in error.value.message


def test_an_import_time_exception_fails_the_load(tmp_path: Path) -> None:
    folder = python_models.write(tmp_path / "m" / "1", "import no_such_package_here\n")
    with pytest.raises(LoadError, match=r"importing model\.py raised ModuleNotFoundError"):
        import_file(folder / "model.py")


@pytest.mark.parametrize(
    ("source", "chosen"),
    [
        ("class Helper:\n    pass\nclass Model:\n    def predict(self, b):\n        return b\n", "Model"),
        (
            "class Base:\n    def predict(self, b):\n        return b\nclass Model(Base):\n    pass\n",
            "Model",
        ),
        ("class Gen:\n    def stream(self, i):\n        yield i\n", "Gen"),
        ("from collections import OrderedDict\nclass M:\n    def predict(self, b):\n        return b\n", "M"),
    ],
)
def test_the_model_class_is_the_one_with_predict_or_stream(tmp_path: Path, source: str, chosen: str) -> None:
    folder = python_models.write(tmp_path / "m" / "1", source)
    module = import_file(folder / "model.py")
    assert model_class(module).__name__ == chosen
    forget(module)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("X = 1\n", "defines no class"),
        (
            "class A:\n    def predict(self, b):\n        return b\n"
            "class B:\n    def predict(self, b):\n        return b\n",
            r"more than one model class \(A, B\)",
        ),
    ],
)
def test_no_class_or_two_are_refused(tmp_path: Path, source: str, message: str) -> None:
    folder = python_models.write(tmp_path / "m" / "1", source)
    module = import_file(folder / "model.py")
    with pytest.raises(LoadError, match=message):
        model_class(module)
    forget(module)

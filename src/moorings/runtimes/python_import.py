"""Import a version's ``model.py`` as a module of its own, and find its model class.

Each load compiles the file's current text into a new module with a unique
name (``moorings_model_<model>_<version>_<n>``), registered in ``sys.modules``
while the version is loaded: a new ``model.py`` always runs its new code, and
two versions (or two loads of one) never share module state. No bytecode is
written into the repository.
"""

from __future__ import annotations

import itertools
import re
import sys
import types
from pathlib import Path

from moorings.errors import LoadError, first_line, hide_paths

#: the largest model.py read (it is code, not weights)
MAX_SOURCE_BYTES = 4 * 1024 * 1024

_loads = itertools.count(1)


def module_name(path: Path) -> str:
    """A name no other load has: the model's and version's folder names and a counter."""
    label = re.sub(r"\W", "_", f"{path.parent.parent.name}_{path.parent.name}")
    return f"moorings_model_{label}_{next(_loads)}"


def import_file(path: Path) -> types.ModuleType:
    """Run ``path`` as a new module; LoadError (line and message, no path) when it cannot be."""
    try:
        with open(path, "rb") as file:
            source = file.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise LoadError(f"model.py cannot be read: {exc.strerror}") from None
    if len(source) > MAX_SOURCE_BYTES:
        raise LoadError(f"model.py is larger than {MAX_SOURCE_BYTES} bytes")
    name = module_name(path)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses, typing.get_type_hints and pickle look modules up here
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except SyntaxError as exc:
        forget(module)
        raise LoadError(f"model.py line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:
        forget(module)
        raise LoadError(
            f"importing model.py raised {type(exc).__name__}: {hide_paths(first_line(exc))}"
        ) from None
    return module


def forget(module: types.ModuleType) -> None:
    """Drop ``module`` from ``sys.modules`` (its objects live on while something refers to them)."""
    if sys.modules.get(module.__name__) is module:
        del sys.modules[module.__name__]


def model_class(module: types.ModuleType) -> type:
    """The model class: the one class defined in model.py with a ``predict`` or ``stream`` method,
    not counting classes that another such class derives from."""
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and (callable(getattr(value, "predict", None)) or callable(getattr(value, "stream", None)))
    ]
    leaves = [cls for cls in found if not any(other is not cls and issubclass(other, cls) for other in found)]
    if len(leaves) == 1:
        return leaves[0]
    if not leaves:
        raise LoadError(
            "model.py defines no class with a predict(self, batch) or stream(self, inputs) method"
        )
    names = ", ".join(sorted(cls.__name__ for cls in leaves))
    raise LoadError(f"model.py defines more than one model class ({names}); keep one class with predict")

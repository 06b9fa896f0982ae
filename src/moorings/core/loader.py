"""Turns a version folder into a Servable: detect the runtime, load it, check it."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

from moorings.batch_settings import BatchingSettings
from moorings.config import ModelConfig
from moorings.core.labels import find_labels
from moorings.core.servable import Servable
from moorings.errors import LoadError, MooringsError, hide_paths
from moorings.observe import metrics
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.pipeline import BindContext, build_pipeline
from moorings.runtimes import detect, runtime_class
from moorings.types import DEFAULT_SIGNATURE, ClassNames, ServableId

log = logging.getLogger(__name__)

#: replays a version's recorded requests through its servable before it is published; raises
#: a MooringsError (its message names the warm-up file and record) when one fails
WarmUp = Callable[[Servable, Path], None]


class Loader:
    """Loads model versions found under ``root``; error messages never show file paths."""

    def __init__(
        self,
        root: Path,
        allow_unsafe_pickle: bool = False,
        batching: BatchingSettings | None = None,
        allow_python_models: bool = False,
        input_limits: InputLimits | None = None,
    ) -> None:
        self.root = root.resolve()
        #: limits of the raw inputs model.toml declares (``[inputs]``: images)
        self.input_limits = input_limits or InputLimits()
        self.allow_unsafe_pickle = allow_unsafe_pickle
        self.allow_python_models = allow_python_models
        self.batching = batching or BatchingSettings()
        #: set by the server once its request runner exists (see ``moorings.warmup``)
        self.warmup: WarmUp | None = None

    def load(self, servable_id: ServableId, path: Path, config: ModelConfig) -> Servable:
        started = time.perf_counter()
        try:
            classes = self._classes(path, config)
            name = config.runtime.name or detect(path)
            options = dataclasses.replace(
                config.runtime,
                allow_unsafe_pickle=self.allow_unsafe_pickle,
                allow_python_models=self.allow_python_models,
            )
            batching = config.batching_settings(self.batching)
            runtime = runtime_class(name)(path, options)
            runtime.load()
            try:
                _check_tables(config, runtime.kind)
                context = BindContext(path, self.input_limits)
                pipeline = build_pipeline(config.inputs, runtime.signatures, context)
            except BaseException:
                runtime.unload()
                raise
            servable = Servable(servable_id, runtime, batching, classes, pipeline)
            if DEFAULT_SIGNATURE not in servable.signatures and not servable.signatures:
                raise LoadError("the model exposes no signature")
            output = config.classes_output
            if output is not None and not any(output in s.outputs for s in servable.signatures.values()):
                servable.unload()
                raise LoadError(f"model.toml [classes] output names {output!r}, which no signature outputs")
            if self.warmup is not None:
                self._warm_up(servable, path)
        except MooringsError as exc:
            metrics.model_load_failed(servable_id)
            raise LoadError(self._scrub(exc.message)) from None
        except Exception as exc:  # a runtime's own failure must not escape as a crash
            metrics.model_load_failed(servable_id)
            log.exception("loading %s version %s failed", servable_id.name, servable_id.version)
            raise LoadError(self._scrub(f"{type(exc).__name__}: {exc}")[:500]) from None
        took = time.perf_counter() - started
        metrics.model_loaded(servable_id, took)
        log.info("loaded %s version %d (%s) in %.2fs", servable_id.name, servable_id.version, name, took)
        return servable

    def _classes(self, path: Path, config: ModelConfig) -> ClassNames | None:
        """The version's class names (read before the model: a bad labels file fails fast)."""
        names = find_labels(self.root, path)
        if names is None and config.classes_output is None:
            return None
        return ClassNames(names or (), config.classes_output)

    def _warm_up(self, servable: Servable, path: Path) -> None:
        """Run the warm-up hook; on failure the servable is unloaded and the error raised."""
        assert self.warmup is not None
        try:
            self.warmup(servable, path)
        except BaseException:
            servable.unload()
            raise

    def _scrub(self, message: str) -> str:
        """The message with the repository shown as ``<repository>`` and any other path hidden."""
        return hide_paths(message, str(self.root))


def _check_tables(config: ModelConfig, kind: str) -> None:
    """LoadError for an ``[inputs.<name>]`` table without a ``kind`` on a model that is not a
    Python model (only a Python model's signature is declared that way)."""
    if kind == "python":
        return
    plain = sorted(name for name, table in config.runtime.inputs.items() if "kind" not in table)
    if plain or config.runtime.outputs:
        name = f"inputs.{plain[0]}" if plain else f"outputs.{next(iter(config.runtime.outputs))}"
        raise LoadError(
            f"model.toml [{name}] declares a tensor, which only a Python model (model.py) does; "
            'a raw input needs a kind (kind = "image" or "text")'
        )

"""The manager reconciles the versions a source aspires to with the versions loaded.

Rules (TensorFlow Serving's availability-preserving policy):

- an aspired version that is not loaded is loaded, off the caller's thread;
- a loaded version that is no longer aspired is unloaded only once an aspired
  version of the same model is AVAILABLE (or the model has no versions left),
  so a broken new version never replaces a good one;
- a version that failed to load is retried when its files change;
- a version being unloaded stays alive until the last handle on it is released,
  so in-flight requests finish on the version they started on.

The lock guards only bookkeeping; loading and unloading run in a thread pool.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from moorings.config import ModelConfig
from moorings.core.loader import Loader
from moorings.core.servable import Servable, ServableHandle
from moorings.errors import LoadError, NotFound, Unavailable
from moorings.names import check_model_name
from moorings.repository.source import AspiredModel, LocalSource
from moorings.types import ModelRef, ModelStatus, ServableId, VersionState, VersionStatus

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Version:
    version: int
    fingerprint: str
    state: VersionState = VersionState.START
    servable: Servable | None = None
    error: str | None = None
    refs: int = 0


@dataclass(eq=False)
class _Model:
    name: str
    config: ModelConfig
    versions: dict[int, _Version] = field(default_factory=dict)
    latest: int | None = None

    def refresh_latest(self) -> None:
        available = [v for v, r in self.versions.items() if r.state is VersionState.AVAILABLE]
        self.latest = max(available) if available else None


class Manager:
    def __init__(self, source: LocalSource, loader: Loader, load_threads: int = 2) -> None:
        self._source = source
        self._loader = loader
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._models: dict[str, _Model] = {}
        self._aspired: dict[str, AspiredModel] = {}
        self._pool = ThreadPoolExecutor(max_workers=load_threads, thread_name_prefix="moorings-load")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self.first_poll_done = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, poll_seconds: float) -> None:
        """Poll the source now and then every ``poll_seconds`` in a background thread."""
        self.poll_once()
        self._thread = threading.Thread(
            target=self._run, args=(poll_seconds,), name="moorings-poll", daemon=True
        )
        self._thread.start()

    def _run(self, poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                self.poll_once()
            except Exception:  # a bad scan must never stop polling
                log.exception("polling the model repository failed")

    def stop(self) -> None:
        """Stop polling and unload every version."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._aspired = {}
            self._reconcile()
        self.wait_until_idle(timeout=60)
        self._pool.shutdown(wait=True)

    def poll_once(self) -> None:
        aspired = self._source.scan()
        with self._lock:
            self._aspired = aspired
            self._reconcile()
        self.first_poll_done.set()

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until no load or unload is running (for tests and start-up)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def is_ready(self) -> bool:
        """True once the first scan's loads have all finished, whatever their outcome."""
        with self._lock:
            return self.first_poll_done.is_set() and not any(
                r.state in (VersionState.START, VersionState.LOADING)
                for m in self._models.values()
                for r in m.versions.values()
            )

    # -- reconciliation (lock held) -----------------------------------------------------------

    def _reconcile(self) -> None:
        for name, aspired in self._aspired.items():
            if aspired.config is None:
                key = f"{name}:{aspired.config_error}"
                if key not in self._warned:
                    self._warned.add(key)
                    log.error("model %s: %s; keeping its current versions", name, aspired.config_error)
                continue
            model = self._models.get(name)
            if model is None:
                model = self._models[name] = _Model(name, aspired.config)
            model.config = aspired.config
            for version, spec in aspired.versions.items():
                record = model.versions.get(version)
                if record is None or (
                    record.state is VersionState.END and record.fingerprint != spec.fingerprint
                ):
                    self._begin_load(model, version, spec.path, spec.fingerprint)
            self._retire(model, aspired)
        for name in [n for n in self._models if n not in self._aspired]:
            self._retire(self._models[name], None)

    def _retire(self, model: _Model, aspired: AspiredModel | None) -> None:
        wanted = aspired.versions if aspired is not None else {}
        aspired_available = any(
            (r := model.versions.get(v)) is not None and r.state is VersionState.AVAILABLE for v in wanted
        )
        for version, record in list(model.versions.items()):
            if version in wanted:
                continue
            if record.state is VersionState.AVAILABLE and (aspired_available or not wanted):
                self._begin_unload(model, record)
            elif record.state is VersionState.END:
                del model.versions[version]
        if not model.versions and aspired is None:
            del self._models[model.name]

    def _begin_load(self, model: _Model, version: int, path: Path, fingerprint: str) -> None:
        record = _Version(version, fingerprint, VersionState.LOADING)
        model.versions[version] = record
        self._pending += 1
        self._pool.submit(self._load, model, record, path, model.config)

    def _begin_unload(self, model: _Model, record: _Version) -> None:
        record.state = VersionState.UNLOADING
        model.refresh_latest()
        if record.refs == 0:
            self._pending += 1
            self._pool.submit(self._unload, model, record)

    # -- jobs (pool threads) -------------------------------------------------------------------

    def _load(self, model: _Model, record: _Version, path: Path, config: ModelConfig) -> None:
        servable: Servable | None = None
        error: str | None = None
        try:
            servable = self._loader.load(ServableId(model.name, record.version), path, config)
        except LoadError as exc:
            error = exc.message
            log.error("model %s version %d failed to load: %s", model.name, record.version, error)
        with self._lock:
            current = self._models.get(model.name) is model and model.versions.get(record.version) is record
            if servable is not None and current:
                record.servable = servable
                record.state = VersionState.AVAILABLE
                model.refresh_latest()
                self._reconcile()
                servable = None
            elif not current:
                pass  # the model went away while loading: drop what was loaded below
            else:
                record.state = VersionState.END
                record.error = error
        if servable is not None:
            servable.unload()
        self._finish_job()

    def _unload(self, model: _Model, record: _Version) -> None:
        servable = record.servable
        try:
            if servable is not None:
                servable.unload()
        except Exception:
            log.exception("unloading %s version %d failed", model.name, record.version)
        log.info("unloaded %s version %d", model.name, record.version)
        with self._lock:
            record.state = VersionState.END
            record.servable = None
            if model.versions.get(record.version) is record:
                del model.versions[record.version]
            if (
                not model.versions
                and self._models.get(model.name) is model
                and (model.name not in self._aspired or not self._aspired[model.name].versions)
            ):
                del self._models[model.name]
        self._finish_job()

    def _finish_job(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _release(self, model: _Model, record: _Version) -> None:
        with self._lock:
            record.refs -= 1
            if record.refs == 0 and record.state is VersionState.UNLOADING:
                self._pending += 1
                self._pool.submit(self._unload, model, record)

    # -- requests -------------------------------------------------------------------------------

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            check_model_name(name)
            raise NotFound(f"model {name!r} is not served (no such folder in the model repository)")
        return model

    def _resolve_version(self, model: _Model, ref: ModelRef) -> int:
        if ref.label is not None:
            version = model.config.labels.get(ref.label)
            if version is None:
                labels = ", ".join(sorted(model.config.labels)) or "none"
                raise NotFound(f"model {model.name!r} has no label {ref.label!r} (labels: {labels})")
            return version
        if ref.version is not None:
            return ref.version
        if model.latest is None:
            failed = [r for r in model.versions.values() if r.error]
            if failed and not any(r.state is VersionState.LOADING for r in model.versions.values()):
                newest = max(failed, key=lambda r: r.version)
                raise Unavailable(
                    f"model {model.name!r} has no version available: version {newest.version} "
                    f"failed to load: {newest.error}"
                )
            raise Unavailable(f"model {model.name!r} has no version available yet (loading)")
        return model.latest

    def acquire(self, ref: ModelRef) -> ServableHandle:
        """A handle on the servable a request asks for; release it when the request is done."""
        with self._lock:
            model = self._model(ref.name)
            version = self._resolve_version(model, ref)
            record = model.versions.get(version)
            if record is None:
                via = f" (label {ref.label!r} points at it)" if ref.label else ""
                raise NotFound(f"model {model.name!r} has no version {version}{via}")
            if record.state is not VersionState.AVAILABLE or record.servable is None:
                if record.state in (VersionState.START, VersionState.LOADING):
                    raise Unavailable(f"model {model.name!r} version {version} is still loading")
                if record.error:
                    raise Unavailable(
                        f"model {model.name!r} version {version} failed to load: {record.error}"
                    )
                raise NotFound(f"model {model.name!r} version {version} is being unloaded")
            record.refs += 1
            return ServableHandle(record.servable, partial(self._release, model, record))

    def status(self, ref: ModelRef) -> ModelStatus:
        """TensorFlow Serving's model status: every version tracked, newest first."""
        with self._lock:
            model = self._model(ref.name)
            records = sorted(model.versions.values(), key=lambda r: r.version, reverse=True)
            if ref.label is not None or ref.version is not None:
                version = self._resolve_version(model, ref)
                records = [r for r in records if r.version == version]
                if not records:
                    raise NotFound(f"model {model.name!r} has no version {version}")
            return ModelStatus(
                model.name,
                [VersionStatus(r.version, r.state, r.error) for r in records],
            )

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def labels(self, name: str) -> dict[str, int]:
        with self._lock:
            return dict(self._model(name).config.labels)

"""The manager reconciles the versions a source aspires to with the versions loaded.

Which versions to load, unload or forget is decided by ``core.transitions.plan``
(availability preserving: the new version loads before the old one goes, a
broken new version never replaces a good one, a failed version is retried when
its files or its model's configuration change). The manager carries the plan
out: loads run off the caller's thread, and a version being unloaded stays
alive until the last handle on it is released, so in-flight requests finish on
the version they started on.

The lock guards only bookkeeping; loading and unloading run in a thread pool.

The admin API can pin a model off (:meth:`Manager.unload_model`): its versions
are unloaded and stay unloaded whatever the repository holds, until
:meth:`Manager.load_model` lifts the pin. Pins live in memory only.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from moorings.config import ModelConfig
from moorings.core.loader import Loader
from moorings.core.servable import Servable, ServableHandle
from moorings.core.transitions import Tracked, plan
from moorings.errors import LoadError, MooringsError, NotFound, Unavailable
from moorings.names import check_model_name
from moorings.repository.base import AspiredModel, AspiredVersion, Source
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
    def __init__(self, source: Source, loader: Loader, load_threads: int = 2) -> None:
        self._source = source
        self.loader = loader
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._models: dict[str, _Model] = {}
        self._aspired: dict[str, AspiredModel] = {}
        self._pool = ThreadPoolExecutor(max_workers=load_threads, thread_name_prefix="moorings-load")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: per model, the configuration error or unserved labels last logged (logged once each)
        self._logged: dict[str, str] = {}
        self.first_poll_done = threading.Event()
        #: models pinned off through the admin API (see unload_model)
        self._pinned_off: set[str] = set()

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
                outcome = "keeping its current versions" if name in self._models else "not served"
                self._log_once(f"{name}:config", f"model {name}: {aspired.config_error}; {outcome}")
                continue
            self._logged.pop(f"{name}:config", None)
            model = self._models.get(name)
            if model is None:
                model = self._models[name] = _Model(name, aspired.config)
            model.config = aspired.config
            if name in self._pinned_off:
                self._apply(model, {})
                continue
            self._warn_unserved_labels(model, aspired)
            self._apply(model, aspired.versions)
        for name in [n for n in self._models if n not in self._aspired]:
            self._apply(self._models[name], {})
        for key in [k for k in self._logged if k.rsplit(":", 1)[0] not in self._aspired]:
            del self._logged[key]

    def _apply(self, model: _Model, wanted: dict[int, AspiredVersion]) -> None:
        """Carry out the transition plan for ``model`` towards the ``wanted`` versions."""
        steps = plan(
            {v: spec.fingerprint for v, spec in wanted.items()},
            {v: Tracked(r.state, r.fingerprint) for v, r in model.versions.items()},
        )
        for version in steps.load:
            self._begin_load(model, wanted[version])
        for version in steps.unload:
            self._begin_unload(model, model.versions[version])
        for version in steps.forget:
            del model.versions[version]
        if not model.versions and model.name not in self._aspired:
            del self._models[model.name]

    def _log_once(self, key: str, message: str, level: int = logging.ERROR) -> None:
        if self._logged.get(key) != message:
            self._logged[key] = message
            log.log(level, message)

    def _warn_unserved_labels(self, model: _Model, aspired: AspiredModel) -> None:
        unserved = _unserved_labels(model.config, aspired)
        key = f"{model.name}:labels"
        if unserved:
            message = f"model {model.name}: " + "; ".join(unserved.values())
            self._log_once(key, message, logging.WARNING)
        else:
            self._logged.pop(key, None)

    def _begin_load(self, model: _Model, spec: AspiredVersion) -> None:
        record = _Version(spec.version, spec.fingerprint, VersionState.LOADING)
        model.versions[spec.version] = record
        self._pending += 1
        self._pool.submit(self._load, model, record, spec, model.config)

    def _begin_unload(self, model: _Model, record: _Version) -> None:
        record.state = VersionState.UNLOADING
        model.refresh_latest()
        if record.refs == 0:
            self._pending += 1
            self._pool.submit(self._unload, model, record)

    # -- jobs (pool threads) -------------------------------------------------------------------

    def _load(self, model: _Model, record: _Version, spec: AspiredVersion, config: ModelConfig) -> None:
        servable: Servable | None = None
        error: str | None = None
        try:
            folder = self._source.version_folder(model.name, spec)
            servable = self.loader.load(ServableId(model.name, record.version), folder, config)
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
        if model is None or not model.versions:
            problem = self._unservable(name)
            if problem is not None:
                raise problem
        if model is None:
            check_model_name(name)
            raise NotFound(f"model {name!r} is not served (no such folder in the model repository)")
        return model

    def _unservable(self, name: str) -> MooringsError | None:
        """Why a model folder of the repository serves no version, when the reason is its own."""
        aspired = self._aspired.get(name)
        if aspired is None:
            return None
        if name in self._pinned_off:
            return Unavailable(
                f"model {name!r} was unloaded through the admin API; it serves again once loaded there"
            )
        if aspired.config is None:
            return Unavailable(f"model {name!r} is not served: {aspired.config_error}")
        if not aspired.present:
            ignored = ", ".join(repr(f) for f in aspired.ignored[:10])
            detail = f"; ignored: {ignored}" if ignored else ""
            return NotFound(
                f"model {name!r} has no version folder: a version is a folder named by an integer, "
                f"e.g. {name}/1/{detail}"
            )
        if not aspired.versions:
            present = ", ".join(str(v) for v in aspired.present[-10:])
            return NotFound(
                f"model {name!r} serves no version: its version policy in model.toml selects none "
                f"of the versions present ({present})"
            )
        return None

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
                via = ""
                if ref.label:
                    via = f" (label {ref.label!r} points at it, but the version policy does not serve it)"
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
        """TensorFlow Serving's model status: every version tracked, newest first.

        A version that a label points at but the version policy does not serve is
        listed as END, its error message saying so.
        """
        with self._lock:
            model = self._model(ref.name)
            statuses = [VersionStatus(r.version, r.state, r.error) for r in model.versions.values()]
            aspired = self._aspired.get(model.name)
            config_error = aspired.config_error if aspired is not None and aspired.config is None else None
            if aspired is not None and aspired.config is not None:
                for version, message in _unserved_labels(model.config, aspired).items():
                    if version not in model.versions:
                        statuses.append(VersionStatus(version, VersionState.END, message))
            statuses.sort(key=lambda s: s.version, reverse=True)
            if ref.label is not None or ref.version is not None:
                version = self._resolve_version(model, ref)
                statuses = [s for s in statuses if s.version == version]
                if not statuses:
                    raise NotFound(f"model {model.name!r} has no version {version}")
            return ModelStatus(model.name, statuses, config_error)

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def config_errors(self) -> dict[str, str]:
        """Per model folder whose model.toml cannot be used, why (served or not)."""
        with self._lock:
            return {
                name: aspired.config_error or "invalid model.toml"
                for name, aspired in self._aspired.items()
                if aspired.config is None
            }

    # -- the admin API (explicit load / unload beside the polling source) ----------------------------

    def unload_model(self, name: str) -> None:
        """Pin a model of the repository off: unload its versions (requests under way finish on them)."""
        self.poll_once()
        with self._lock:
            self._in_repository(name)
            self._pinned_off.add(name)
            self._reconcile()

    def load_model(self, name: str) -> None:
        """Lift the model's pin and load what the repository holds for it now (a fresh scan)."""
        with self._lock:
            self._pinned_off.discard(name)
        self.poll_once()
        with self._lock:
            self._in_repository(name)

    def _in_repository(self, name: str) -> None:
        if name not in self._aspired:
            check_model_name(name)
            raise NotFound(f"model {name!r} is not in the model repository (no such folder)")

    def loading(self, name: str) -> bool:
        """Whether a version of the model is still loading or waiting to."""
        with self._lock:
            model = self._models.get(name)
            return model is not None and any(
                r.state in (VersionState.START, VersionState.LOADING) for r in model.versions.values()
            )

    def index(self) -> list[IndexEntry]:
        """Every model of the repository and every version tracked, with its state and the reason."""
        entries: list[IndexEntry] = []
        with self._lock:
            for name in sorted(set(self._aspired) | set(self._models)):
                model = self._models.get(name)
                versions = sorted(model.versions.values(), key=lambda r: r.version) if model else []
                for r in versions:
                    entries.append(IndexEntry(name, r.version, r.state, r.error or ""))
                if not versions:
                    problem = self._unservable(name)
                    reason = problem.message if problem is not None else "no version loaded"
                    entries.append(IndexEntry(name, None, VersionState.END, reason))
        return entries


@dataclass(frozen=True)
class IndexEntry:
    """One line of the repository index: a model version (None: the model has none) and its state."""

    name: str
    version: int | None
    state: VersionState
    reason: str


def _unserved_labels(config: ModelConfig, aspired: AspiredModel) -> dict[int, str]:
    """Per version that labels point at but the version policy does not serve: a message saying so."""
    by_version: dict[int, list[str]] = {}
    for label, version in sorted(config.labels.items()):
        if version not in aspired.versions:
            by_version.setdefault(version, []).append(label)
    served = ", ".join(str(v) for v in sorted(aspired.versions)) or "none"
    messages = {}
    for version, labels in by_version.items():
        named = ("label " if len(labels) == 1 else "labels ") + ", ".join(repr(label) for label in labels)
        points = "points" if len(labels) == 1 else "point"
        where = "is not in the repository" if version not in aspired.present else "is not served"
        messages[version] = (
            f"{named} {points} at version {version}, which {where} (the version policy serves: "
            f"{served}); to keep a version for rollback, serve it with [versions] latest = N, "
            'policy = "all" or policy = "specific"'
        )
    return messages

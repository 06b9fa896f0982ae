"""The local filesystem source: which model versions should be served.

A source is stateless. Each ``scan()`` reports, per model, the versions the
version policy selects ("aspired"); a version missing from the report should
be unloaded. Hidden and non-integer folders (``.tmp-3``, ``3.partial``) are
ignored, as are folders whose real path leaves the repository.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from moorings.config import ModelConfig, load_model_config
from moorings.errors import MooringsError
from moorings.names import VERSION_RE, is_valid_model_name
from moorings.repository.paths import inside

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AspiredVersion:
    version: int
    path: Path
    fingerprint: str


@dataclass(frozen=True)
class AspiredModel:
    name: str
    config: ModelConfig | None
    versions: dict[int, AspiredVersion]
    config_error: str | None = None


def fingerprint(path: Path) -> str:
    """Changes whenever a file under ``path`` is added, removed, resized or rewritten."""
    count = 0
    total = 0
    newest = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for filename in filenames:
            try:
                st = os.stat(os.path.join(dirpath, filename))
            except OSError:
                continue
            count += 1
            total += st.st_size
            newest = max(newest, st.st_mtime_ns)
    return f"{count}:{total}:{newest}"


class LocalSource:
    """Scans a folder laid out as ``ROOT/<model>/<version>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def scan(self) -> dict[str, AspiredModel]:
        models: dict[str, AspiredModel] = {}
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError as exc:
            self._warn_once("root", f"cannot read model repository: {exc.strerror}")
            return models
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if not is_valid_model_name(entry.name):
                self._warn_once(entry.name, f"ignoring folder {entry.name!r}: not a valid model name")
                continue
            model_dir = Path(entry.path)
            if not inside(self.root, model_dir):
                self._warn_once(entry.name, f"ignoring model {entry.name!r}: it leaves the repository")
                continue
            models[entry.name] = self._scan_model(entry.name, model_dir)
        return models

    def _scan_model(self, name: str, model_dir: Path) -> AspiredModel:
        try:
            config = load_model_config(model_dir)
        except MooringsError as exc:
            return AspiredModel(name, None, {}, config_error=exc.message)
        present: dict[int, Path] = {}
        try:
            children = list(os.scandir(model_dir))
        except OSError:
            children = []
        for child in children:
            if VERSION_RE.fullmatch(child.name) is None or not child.is_dir():
                continue
            path = Path(child.path)
            if not inside(self.root, path):
                self._warn_once(
                    f"{name}/{child.name}", f"ignoring {name}/{child.name}: it leaves the repository"
                )
                continue
            present[int(child.name)] = path
        versions = {
            v: AspiredVersion(v, present[v], fingerprint(present[v]))
            for v in config.policy.select(list(present))
        }
        return AspiredModel(name, config, versions)

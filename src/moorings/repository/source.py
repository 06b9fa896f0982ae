"""The local filesystem source: ``ROOT/<model>/<version>/`` on a local disk.

Hidden and non-integer folders (``.tmp-3``, ``3.partial``) are not versions;
folders and files whose real path leaves the repository are never read.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from moorings.config import MODEL_CONFIG_FILE, ModelConfig, parse_model_toml
from moorings.errors import InvalidArgument, LoadError, MooringsError
from moorings.names import VERSION_RE, is_valid_model_name
from moorings.repository.base import AspiredModel, AspiredVersion, Source
from moorings.repository.paths import escaping_entries, inside

log = logging.getLogger(__name__)

#: a model.toml larger than this is refused unread
MAX_CONFIG_BYTES = 1024 * 1024

__all__ = ["AspiredModel", "AspiredVersion", "LocalSource", "fingerprint"]


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


class LocalSource(Source):
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

    def version_folder(self, model: str, version: AspiredVersion) -> Path:
        folder = Path(version.location)
        if not inside(self.root, folder):
            raise LoadError("the version folder leaves the model repository")
        escaping = escaping_entries(self.root, folder)
        if escaping:
            shown = ", ".join(escaping[:5])
            raise LoadError(
                f"the version folder holds links that leave the model repository or are broken: {shown}"
            )
        return folder

    def _read_config(self, model_dir: Path) -> tuple[ModelConfig, str]:
        """The model's configuration and a digest of its text (defaults when there is no model.toml)."""
        path = model_dir / MODEL_CONFIG_FILE
        if not os.path.lexists(path):
            return ModelConfig(), ""
        if not inside(self.root, path):
            raise InvalidArgument("model.toml is a link that leaves the model repository (or is broken)")
        if not path.is_file():
            raise InvalidArgument("model.toml is not a regular file")
        try:
            with open(path, "rb") as file:
                raw = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise InvalidArgument(f"model.toml cannot be read: {exc.strerror}") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise InvalidArgument(f"model.toml is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument("model.toml is not UTF-8 text") from None
        return parse_model_toml(text), hashlib.sha256(raw).hexdigest()[:16]

    def _scan_model(self, name: str, model_dir: Path) -> AspiredModel:
        try:
            config, config_digest = self._read_config(model_dir)
        except MooringsError as exc:
            return AspiredModel(name, None, config_error=exc.message)
        present: dict[int, Path] = {}
        ignored: list[str] = []
        try:
            children = list(os.scandir(model_dir))
        except OSError:
            children = []
        for child in children:
            if child.name.startswith(".") or not child.is_dir():
                continue
            if VERSION_RE.fullmatch(child.name) is None:
                ignored.append(child.name)
                continue
            path = Path(child.path)
            if not inside(self.root, path):
                self._warn_once(
                    f"{name}/{child.name}", f"ignoring {name}/{child.name}: it leaves the repository"
                )
                continue
            present[int(child.name)] = path
        ignored.sort()
        if ignored:
            self._warn_once(
                f"{name}:ignored:{ignored}",
                f"model {name!r}: ignoring folder(s) {', '.join(repr(i) for i in ignored[:10])}: "
                "a version folder is named by an integer (e.g. 1/)",
            )
        versions = {
            v: AspiredVersion(v, str(present[v]), f"{fingerprint(present[v])}/{config_digest}")
            for v in config.policy.select(list(present))
        }
        return AspiredModel(name, config, versions, present=tuple(sorted(present)), ignored=tuple(ignored))

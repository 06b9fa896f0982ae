"""The interface between a model repository and the manager.

A source is stateless: each ``scan()`` reports every model with the versions its
version policy selects ("aspired"); a version missing from a report should be
unloaded. ``version_folder()`` hands over one version's files as a local folder,
checked, for a loader to read. The manager depends on this interface only, so a
new kind of repository (an S3 prefix) is a new ``Source``, not a change there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from moorings.config import ModelConfig


@dataclass(frozen=True)
class AspiredVersion:
    version: int
    #: where the source finds the version's files (a folder for LocalSource)
    location: str
    #: changes whenever the version's files or the model's configuration change
    fingerprint: str


@dataclass(frozen=True)
class AspiredModel:
    name: str
    #: None when the model's configuration is invalid (``config_error`` says why)
    config: ModelConfig | None
    versions: dict[int, AspiredVersion] = field(default_factory=dict)
    config_error: str | None = None
    #: the version folders present, before the version policy selects among them
    present: tuple[int, ...] = ()
    #: folders beside them that are not versions (not integers), by name
    ignored: tuple[str, ...] = ()


class Source(ABC):
    """Says which model versions should be served and hands over their files."""

    @abstractmethod
    def scan(self) -> dict[str, AspiredModel]:
        """Every model in the repository, by name, with its aspired versions (a full report)."""

    @abstractmethod
    def version_folder(self, model: str, version: AspiredVersion) -> Path:
        """A local folder holding the version's files, ready for a loader to read.

        Raises LoadError, with a message that shows no server path, when the files
        cannot be handed over (e.g. a file links out of the repository).
        Called from a loading thread: it may take time (a download).
        """

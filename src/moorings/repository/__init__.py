"""The model repository: ``REPO/<model>/<version>/``, the Source interface and its sources."""

from moorings.repository.base import AspiredModel, AspiredVersion, Source
from moorings.repository.source import LocalSource

__all__ = [
    "AspiredModel",
    "AspiredVersion",
    "LocalSource",
    "Source",
]

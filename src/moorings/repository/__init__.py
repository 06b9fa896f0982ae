"""The model repository: ``REPO/<model>/<version>/`` and the sources that watch it."""

from moorings.repository.source import AspiredModel, AspiredVersion, LocalSource

__all__ = [
    "AspiredModel",
    "AspiredVersion",
    "LocalSource",
]

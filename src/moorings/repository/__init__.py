"""The model repository: ``REPO/<model>/<version>/`` and the sources that watch it."""

from moorings.repository.names import check_model_name, is_valid_model_name
from moorings.repository.source import AspiredModel, AspiredVersion, LocalSource

__all__ = [
    "AspiredModel",
    "AspiredVersion",
    "LocalSource",
    "check_model_name",
    "is_valid_model_name",
]

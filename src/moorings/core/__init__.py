"""Model lifecycle: loading versions, serving them through counted handles, unloading."""

from moorings.core.manager import Manager
from moorings.core.servable import Servable, ServableHandle

__all__ = ["Manager", "Servable", "ServableHandle"]

"""The HTTP side: a lean ASGI application serving TensorFlow Serving's REST API."""

from moorings.rest.app import RestApp

__all__ = ["RestApp"]

"""The one place a request is run, for every protocol (see :mod:`moorings.dataplane.runner`).

The typed requests and results live in :mod:`moorings.requests`, below the codecs, so codecs can
translate them without importing the runner.
"""

from moorings.dataplane.inputs import check_inputs
from moorings.dataplane.runner import DataPlane

__all__ = ["DataPlane", "check_inputs"]

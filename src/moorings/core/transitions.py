"""The version-transition decision, as a pure function of what is aspired and what is tracked.

Availability preserving (TensorFlow Serving's default policy):

- an aspired version that is not tracked is loaded; one that failed (END) is
  loaded again once its fingerprint changes (its files or the model's config);
- a tracked version that is no longer aspired is unloaded only once an aspired
  version is AVAILABLE, or when nothing is aspired any more, so the new version
  is loaded before the old one goes and a broken new version never replaces a
  good one;
- a failed version that is no longer aspired is forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from moorings.types import VersionState


@dataclass(frozen=True)
class Tracked:
    """What the manager knows of one version of a model."""

    state: VersionState
    #: the fingerprint of the files the last load attempt read
    fingerprint: str


@dataclass(frozen=True)
class Plan:
    """What to do for one model, each list in ascending version order."""

    load: tuple[int, ...] = ()
    unload: tuple[int, ...] = ()
    forget: tuple[int, ...] = ()


def plan(aspired: Mapping[int, str], tracked: Mapping[int, Tracked]) -> Plan:
    """The transitions for one model: ``aspired`` maps version -> fingerprint."""
    load = tuple(
        version
        for version, fingerprint in sorted(aspired.items())
        if (t := tracked.get(version)) is None
        or (t.state is VersionState.END and t.fingerprint != fingerprint)
    )
    aspired_available = any(
        (t := tracked.get(version)) is not None and t.state is VersionState.AVAILABLE for version in aspired
    )
    unload: list[int] = []
    forget: list[int] = []
    for version, t in sorted(tracked.items()):
        if version in aspired:
            continue
        if t.state is VersionState.AVAILABLE and (aspired_available or not aspired):
            unload.append(version)
        elif t.state is VersionState.END:
            forget.append(version)
    return Plan(load, tuple(unload), tuple(forget))

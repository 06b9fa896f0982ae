"""The server's process-wide settings: the garbage collector's young-generation threshold."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorings.cli import main
from moorings.server import set_gc_threshold


@pytest.fixture
def saved_threshold() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_threshold_sets_the_young_generation_only(saved_threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 11, 12)
    set_gc_threshold(50_000)
    assert gc.get_threshold() == (50_000, 11, 12)


def test_zero_leaves_pythons_setting(saved_threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    set_gc_threshold(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_raised_threshold_stops_collections_of_short_lived_objects(
    saved_threshold: tuple[int, int, int],
) -> None:
    """What the setting is for: 2,000 objects alive at once, then freed, again and again."""

    def collections_during(threshold: int) -> int:
        gc.collect()
        set_gc_threshold(threshold)
        count = 0

        def counted(phase: str, info: dict[str, int]) -> None:
            nonlocal count
            count += phase == "start"

        gc.callbacks.append(counted)
        try:
            for _ in range(200):
                in_flight = [[i] for i in range(2_000)]
                del in_flight
        finally:
            gc.callbacks.remove(counted)
        return count

    assert collections_during(700) >= 200
    assert collections_during(50_000) == 0


def test_cli_refuses_a_negative_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", str(tmp_path), "--gc-threshold", "-1"])
    assert "--gc-threshold must be 0 or more" in capsys.readouterr().err

"""The tallies add up to what prometheus_client's own observe and inc would show."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from moorings.observe import metrics
from moorings.observe.tally import HistogramTally
from moorings.types import ServableId

BUCKETS = (0.001, 0.01, 0.1, 1.0)
# values on the bounds go into that bucket (le is "less than or equal")
VALUES = [0.0, 0.0005, 0.001, 0.001, 0.002, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 1e9]


def _text(histogram: Histogram, registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#")]


def test_a_tally_flushes_to_what_observe_gives() -> None:
    direct_registry, tallied_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("h", "h", buckets=BUCKETS, registry=direct_registry)
    tallied = Histogram("h", "h", buckets=BUCKETS, registry=tallied_registry)
    tally = HistogramTally(tallied)
    for v in VALUES:
        direct.observe(v)
    for v in VALUES[:5]:
        tally.observe(v)
    tally.flush()
    tally.observe_since(0.0, [-v for v in VALUES[5:]])  # 0 - (-v) is v exactly
    tally.flush()
    tally.flush()  # nothing new: adds nothing
    direct_lines = [x for x in _text(direct, direct_registry) if "_created" not in x]
    tallied_lines = [x for x in _text(tallied, tallied_registry) if "_created" not in x]
    assert [x.split()[0] for x in tallied_lines] == [x.split()[0] for x in direct_lines]
    for got, want in zip(tallied_lines, direct_lines, strict=True):
        assert abs(float(got.split()[1]) - float(want.split()[1])) <= 1e-6 * max(1.0, float(want.split()[1]))


def test_requests_are_counted_at_the_flush() -> None:
    sid = ServableId("tally-model", 7)
    labels = ("tally-model", "7", "v2_rest", "predict")
    before = metrics.REQUESTS.labels(*labels, "200")._value.get()
    for _ in range(5):
        observation = metrics.begin("v2_rest", "predict")
        metrics.note_servable(sid)
        metrics.finish(observation, "200")
    uncounted = metrics.begin("", "")  # /metrics and the like: not counted
    metrics.finish(uncounted, "200")
    assert metrics.REQUESTS.labels(*labels, "200")._value.get() == before  # not yet flushed
    metrics.flush()
    assert metrics.REQUESTS.labels(*labels, "200")._value.get() == before + 5
    assert metrics.IN_FLIGHT._value.get() == 0

"""Overload: three times the rate the server sustains, open loop, and nothing but 2xx and 429/503.

The rate the server sustains is measured first in the same run (closed loop, 8 clients, 2 s,
against a model of about 5 ms a call run one call at a time, through the batcher
(``--max-batch-size 1 --batch-threads 1``) or the inference pool (``--no-batching
--inference-threads 1``)), then the load generator sends three times that on schedule for 5 s (short)
or 30 s (full). The requests refused must be refused fast (p99 under 10 ms, counted from when
each request was sent) and the server's resident memory must stay flat.

Beside the load, 20 ``GET /v2/health/live`` a second measure what the cheapest answer costs on
the machine at that moment. The full run holds the refused requests to 10 ms; the short run,
made on machines shared with other work, to 50 ms or three times the health probes' p99,
whichever is larger (``scale.refusal_bound``; the 10 ms figure needs a quiet machine).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from benchmarks.openloop import Report, percentile, run_closed_loop, run_open_loop

from tests.e2e.test_batching_queue import WIDTH, write_slow_model
from tests.reliability.scale import pick, refusal_bound
from tests.support.procstat import sample
from tests.support.server import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

#: one call at a time, through the batcher's bounded queue or the inference pool's
SERIAL = {
    "batched": ("--max-batch-size", "1", "--batch-threads", "1"),
    "unbatched": ("--no-batching", "--inference-threads", "1"),
}
#: resident memory may grow this much from the first quarter of the run to its end (MiB)
RSS_GROWTH_MIB = 16.0


@pytest.mark.parametrize("path", sorted(SERIAL))
def test_three_times_the_sustainable_rate(tmp_path: Path, path: str) -> None:
    seconds = pick(5, 30)
    write_slow_model(tmp_path / "repo" / "slow" / "1", layers=500)
    body = json.dumps({"instances": [[0.5] * WIDTH]}).encode()
    with running_server(tmp_path / "repo", *SERIAL[path]) as server:
        url = f"{server.url}/v1/models/slow:predict"
        sustained = asyncio.run(run_closed_loop(url, 8, 2.0, body=body))
        assert sustained.statuses() == {200: len(sustained.outcomes)}
        rate = len(sustained.outcomes) / sustained.seconds
        rss: list[tuple[float, float]] = []

        async def both() -> tuple[Report, Report]:
            return await asyncio.gather(
                run_open_loop(
                    url, 3 * rate, seconds, body=body, timeout=60,
                    on_tick=lambda t: rss.append((t, sample(server.process.pid).rss_mib)),
                ),
                run_open_loop(f"{server.url}/v2/health/live", 20, seconds, method="GET"),
            )  # fmt: skip

        report, live = asyncio.run(both())
        assert server.process.poll() is None
        after = httpx.post(url, content=body, timeout=30)
        assert after.status_code == 200, after.text

    summary = report.summary()
    refused = [o for o in report.outcomes if o.status in (429, 503)]
    refused_p99 = percentile([o.latency - o.late for o in refused], 99)
    live_p99 = percentile([o.latency - o.late for o in live.outcomes], 99)
    bound = refusal_bound(live_p99)
    print(f"overload ({path}): sustained {rate:.0f} req/s; offered {3 * rate:.0f}:", summary)
    print(
        f"refused p99 {refused_p99 * 1000:.2f} ms from sending "
        f"({percentile([o.latency for o in refused], 99) * 1000:.2f} ms from when due); "
        f"p50 {percentile([o.latency - o.late for o in refused], 50) * 1000:.2f} ms, "
        f"p90 {percentile([o.latency - o.late for o in refused], 90) * 1000:.2f} ms; "
        f"health probes p99 {live_p99 * 1000:.2f} ms; rss {rss[0][1]:.1f} -> {rss[-1][1]:.1f} MiB"
    )
    assert live.statuses() == {200: len(live.outcomes)}, live.summary()
    assert report.failed == [], summary
    assert set(report.statuses()) <= {200, 429, 503}, summary
    assert refused, f"nothing was refused at three times the sustainable rate: {summary}"
    assert report.statuses().get(200, 0) > 0
    assert refused_p99 < bound, f"p99 of the refused requests {refused_p99 * 1000:.1f} ms"
    settled = [mib for t, mib in rss if t >= seconds / 4]
    start = settled[0]
    assert max(settled) - start < RSS_GROWTH_MIB, f"RSS grew from {start:.1f} to {max(settled):.1f} MiB"

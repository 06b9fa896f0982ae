"""Soak: a new version published every period under steady load; what the process holds stays bounded.

Full (``make reliability``): 10 minutes, a new version every minute, 50 req/s. Short (``make
test``): 120 s, a new version every 20 s. Each new version (a different MLP) must go live and
every request be answered. The server's resident memory, open file descriptors and threads
are sampled every second; from the first sample (taken once the load runs, before the first
publish) to the end, threads may grow by at most 4, descriptors by at most 8, and resident
memory by at most 24 MiB (a leak of one small MLP session per version would pass that in
the full run only if each leaked less than 2 MiB; the figures measured are in
docs/reliability.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from benchmarks.openloop import run_open_loop

from tests.reliability.helpers import LoadThread, publish, version_status, wait_for
from tests.reliability.scale import pick
from tests.support import onnx_models
from tests.support.procstat import ProcSample, sample
from tests.support.server import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

RATE = 50.0
X = np.random.default_rng(11).normal(size=(1, 4)).astype(np.float32)
THREADS_GROWTH = 4
FDS_GROWTH = 8
RSS_GROWTH_MIB = 24.0


def test_soak_with_a_new_version_every_period(tmp_path: Path) -> None:
    seconds, period = pick(120, 600), pick(20, 60)
    repo = tmp_path / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1", seed=1)
    body = json.dumps({"instances": X.tolist()}).encode()
    samples: list[tuple[float, ProcSample]] = []
    with running_server(repo) as server:
        pid = server.process.pid

        def tick(elapsed: float) -> None:
            if not samples or elapsed - samples[-1][0] >= 1.0:
                samples.append((elapsed, sample(pid)))

        load = LoadThread(
            lambda: run_open_loop(
                f"{server.url}/v1/models/mlp:predict",
                RATE,
                seconds,
                body=body,
                keep_bodies=True,
                on_tick=tick,
            )
        )
        load.start()
        version = 1
        expected = {}
        while True:
            due = version * period
            if due > seconds - period / 2:
                break
            wait_for(lambda due=due: load.elapsed() > due, seconds + 60, "the next period")
            version += 1
            staged = tmp_path / "staging" / str(version)
            expected[version] = onnx_models.write_mlp(staged, seed=version)(X)
            publish(staged, repo / "mlp", version)
            shutil.rmtree(staged)

            def live(v: int = version) -> bool:
                return version_status(server.url, "mlp").get(str(v), {}).get("state") == "AVAILABLE"

            wait_for(live, 15, f"version {version} live")
            if version > 3:  # old folders go, as a publisher would clean up
                shutil.rmtree(repo / "mlp" / str(version - 2))
        report = load.result(seconds + 60)
        end = sample(pid)
        assert server.process.poll() is None

    summary = report.summary()
    start = samples[0][1]
    print(f"soak: {version - 1} new versions in {seconds:.0f} s; {summary}")
    print(f"start {start}; end {end}; max RSS {max(s.rss_mib for _, s in samples):.1f} MiB")
    assert version - 1 >= seconds / period - 1
    assert report.failed == [], summary
    assert report.statuses() == {200: len(report.outcomes)}, summary
    last = json.loads(report.outcomes[-1].body or b"")["predictions"]
    np.testing.assert_allclose(last, expected[version], rtol=1e-5)
    assert end.threads <= start.threads + THREADS_GROWTH, (start, end)
    assert end.fds <= start.fds + FDS_GROWTH, (start, end)
    assert end.rss_mib <= start.rss_mib + RSS_GROWTH_MIB, (start, end)

"""The benchmark harness still runs (quick mode). Not a benchmark: no timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

from tests.support.process import ROOT, clean_env


def test_quick_benchmark_runs(tmp_path: Path) -> None:
    env = clean_env(BENCH_SECONDS="1")
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "quick.json").read_text())
    scenarios = {r["scenario"]: r for r in report["results"]}
    assert {
        "burst create",
        "create",
        "join",
        "getMeetings",
        "isMeetingRunning",
        "getMeetingInfo",
        "ceiling: bare handler",
        "ceiling: bare proxy create",
    } <= set(scenarios)
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in scenarios.values()), scenarios
    # 30 simultaneous creates over 3 equal backends: placement under the cluster lock puts
    # each on the least loaded, so exactly 10 each (random placement would rarely do that).
    assert report["facts"]["burst"]["per_backend"] == [10, 10, 10]
    assert report["facts"]["serve_rss_mb_big_cluster"] > 0

"""The benchmark harness still runs (quick mode). Not a benchmark: no timing is asserted."""

import json
import os
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
    assert report["facts"]["burst"]["max_over_mean"] <= 1.5
    assert report["facts"]["serve_rss_mb_big_cluster"] > 0
    assert os.path.exists(tmp_path / "quick.json")

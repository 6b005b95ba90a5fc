"""``b3scale serve --workers``, as a user runs it: one port, several processes, one set of
counts, a dead worker replaced, all stopped by SIGTERM."""

import asyncio
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.pg import admin_execute, dsn_for
from tests.support.process import Serve


def workers_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    assert found.returncode in (0, 1), found.stderr
    return sorted(int(p) for p in found.stdout.split())


def healthz_count(url: str) -> float:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("b3scale_http_requests_total") and 'route="/healthz"' in line
    )


def until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def two_workers(pg_admin_dsn: str) -> Iterator[Serve]:
    """``serve`` with two workers on a database of its own, both running."""
    name = f"b3scale_workers_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    try:
        with Serve(B3SCALE_DB_URL=dsn_for(pg_admin_dsn, name), B3SCALE_WORKERS="2") as serve:
            serve.wait_healthy()
            until(lambda: len(workers_of(serve.proc.pid)) == 2)
            yield serve
    finally:
        asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def test_workers_share_the_port_and_their_counts_and_are_replaced(two_workers: Serve) -> None:
    serve = two_workers
    first = workers_of(serve.proc.pid)
    time.sleep(1.5)  # every worker has shared its counts since its last request
    before = healthz_count(serve.url)
    for _ in range(40):  # new connections: the kernel spreads them over the workers
        urllib.request.urlopen(f"{serve.url}/healthz", timeout=5).read()
    # Whichever worker answers the scrape counts for both (shared every second).
    until(lambda: healthz_count(serve.url) == before + 40)
    assert {healthz_count(serve.url) for _ in range(6)} == {before + 40}

    os.kill(first[0], signal.SIGKILL)
    until(
        lambda: len(workers_of(serve.proc.pid)) == 2 and first[0] not in workers_of(serve.proc.pid)
    )
    serve.wait_healthy()
    assert serve.stop() == 0
    assert workers_of(serve.proc.pid) == []
    assert "worker exited; starting another" in serve.output
    assert "Traceback" not in serve.output


def test_workers_do_not_outlive_a_killed_supervisor(two_workers: Serve) -> None:
    serve = two_workers
    workers = workers_of(serve.proc.pid)
    serve.proc.kill()  # SIGKILL: the supervisor cannot pass anything on
    serve.proc.wait()

    def gone() -> bool:
        return all(not os.path.exists(f"/proc/{pid}") for pid in workers)

    until(gone)  # they got SIGTERM from the kernel and stopped


def test_a_bad_worker_count_is_one_line_and_exit_2() -> None:
    from tests.support.process import run_b3scale

    done = run_b3scale("serve", "--workers", "0", B3SCALE_DB_URL="host=/nonexistent")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("expected a number from 1 to 64, or auto")

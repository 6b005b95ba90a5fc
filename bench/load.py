"""Load generators: wrk for repeatable GETs (fast, C), an aiohttp client for everything else."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import aiohttp
from yarl import URL


@dataclass
class Result:
    scenario: str
    tool: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: CPU time serve spent per request in this scenario (None: not measured, a ceiling).
    serve_cpu_ms: float | None = None
    #: CPU time PostgreSQL's processes spent per request in this scenario.
    db_cpu_ms: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def drive(
    scenario: str,
    make_url: Callable[[int], str],
    count: int,
    concurrency: int,
    *,
    ok_status: tuple[int, ...] = (200,),
    time_cap: float = 60.0,
) -> Result:
    """``count`` GETs of ``make_url(i)`` with ``concurrency`` in flight; stops at ``time_cap``."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.monotonic() + time_cap
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal next_index, errors
            while next_index < count and time.monotonic() < deadline:
                index = next_index
                next_index += 1
                started = time.perf_counter()
                try:
                    async with session.get(
                        URL(make_url(index), encoded=True), allow_redirects=False
                    ) as resp:
                        body = await resp.read()
                        good = resp.status in ok_status and b"<returncode>FAILED" not in body
                except aiohttp.ClientError:
                    good = False
                latencies.append(time.perf_counter() - started)
                errors += not good

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return Result(
        scenario,
        "aiohttp-client",
        len(latencies),
        errors,
        round(elapsed, 2),
        round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        round(percentile(latencies, 0.5) * 1000, 2),
        round(percentile(latencies, 0.99) * 1000, 2),
        round((latencies[-1] if latencies else 0) * 1000, 2),
    )


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_MAX = re.compile(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)")
_WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(s|ms|m)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(scenario: str, url: str, connections: int, seconds: float, threads: int = 1) -> Result:
    """wrk on one URL (the same signed GET again and again) for ``seconds``."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    percentiles = {m[1]: float(m[2]) * _UNIT[m[3]] for m in _WRK_LATENCY.finditer(out)}
    total = _WRK_TOTAL.search(out)
    requests = int(total[1]) if total else 0
    elapsed = float(total[2]) * _UNIT[total[3]] / 1000 if total else seconds
    maximum = _WRK_MAX.search(out)
    non2xx = _WRK_NON2XX.search(out)
    socket = _WRK_ERRORS.search(out)
    errors = (int(non2xx[1]) if non2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return Result(
        scenario,
        "wrk",
        requests,
        errors,
        round(elapsed, 2),
        round(requests / elapsed, 1),
        round(percentiles.get("50", 0.0), 2),
        round(percentiles.get("99", 0.0), 2),
        round(float(maximum[1]) * _UNIT[maximum[2]], 2) if maximum else 0.0,
    )

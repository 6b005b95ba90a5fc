"""The 8 o'clock rush: ``python -m bench.burst [--nodes 100] [--creates 1000] [--joins 5000]``.

A throwaway PostgreSQL with stock settings (``max_connections = 100``), ``b3scale sim`` with
100 nodes, two ``b3scale serve`` instances with default settings, 100 backends and one frontend
added through the REST API. Then, all at once: N creates of new meetings (through one instance,
then through both), and M joins to the meetings that exist. Reports successes, failures by
kind, p50/p99, the spread over the nodes, whether the meetings on the nodes are exactly those
acknowledged, whether ``psql`` could connect during the burst, and tracebacks in the logs.
Not a test: it prints JSON, and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import aiohttp
from yarl import URL

from b3scale.bbb.request import Request
from bench.load import percentile
from bench.run import (
    API_SECRET,
    free_port,
    process,
    register,
    throwaway_postgres,
    wait_http,
)

FRONTEND, SECRET = "rush", "rush-secret"


def signed(base: str, call: str, params: dict[str, str], secret: str = SECRET) -> URL:
    query = Request.build(call, params).signed_query(secret)
    return URL(f"{base}{call}?{query}", encoded=True)


async def burst(urls: list[URL], ok_status: int) -> dict[str, Any]:
    """Every URL at once; outcomes by kind and latency percentiles."""
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(url: URL) -> None:
            started = time.perf_counter()
            try:
                async with session.get(url, allow_redirects=False) as resp:
                    body = await resp.read()
                    if resp.status == ok_status and b"FAILED" not in body:
                        outcomes["ok"] += 1
                    else:
                        key = ET.fromstring(body).findtext("messageKey") if b"<" in body else ""  # noqa: S314
                        outcomes[f"{resp.status} {key}"] += 1
            except (aiohttp.ClientError, TimeoutError, ET.ParseError) as exc:
                outcomes[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(one(u) for u in urls))
        seconds = time.monotonic() - started
    latencies.sort()
    return {
        "sent": len(urls),
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


async def meetings_on_nodes(nodes: list[dict[str, str]]) -> list[int]:
    counts = []
    async with aiohttp.ClientSession() as session:
        for node in nodes:
            url = signed(node["api_url"], "getMeetings", {}, node["secret"])
            async with session.get(url) as resp:
                root = ET.fromstring(await resp.read())  # noqa: S314 - our simulator
                counts.append(len(root.findall("meetings/meeting")))
    return counts


def psql_during(port: int) -> bool:
    """Whether an administrator can connect right now."""
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-Atc", "SELECT 1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0 and done.stdout.strip() == "1"


async def with_psql_probe(port: int, work: Any) -> tuple[dict[str, Any], bool]:
    task = asyncio.create_task(work)
    await asyncio.sleep(0.5)  # the burst is under way
    probe = await asyncio.to_thread(psql_during, port)
    return await task, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--joins", type=int, default=5000)
    args = parser.parse_args()
    cleanup = contextlib.ExitStack()
    cluster, work = cleanup.enter_context(throwaway_postgres("b3scale-burst-"))
    env = {"PATH": "/usr/bin:/bin"}
    b3 = [sys.executable, "-m", "b3scale"]
    dsn = f"host=127.0.0.1 port={cluster.port} user=postgres"
    ports = [free_port(), free_port()]
    report: dict[str, Any] = {"nodes": args.nodes}
    try:
        with (
            process([*b3, "sim", "--nodes", str(args.nodes), "--json"], env) as sim,
            process(
                [*b3, "serve"],
                {
                    **env,
                    "B3SCALE_DB_URL": dsn,
                    "B3SCALE_API_JWT_SECRET": API_SECRET,
                    "B3SCALE_LISTEN_HTTP": f"127.0.0.1:{ports[0]}",
                },
                work / "serve-1.log",
            ),
            process(
                [*b3, "serve"],
                {
                    **env,
                    "B3SCALE_DB_URL": dsn,
                    "B3SCALE_API_JWT_SECRET": API_SECRET,
                    "B3SCALE_LISTEN_HTTP": f"127.0.0.1:{ports[1]}",
                },
                work / "serve-2.log",
            ),
        ):
            assert sim.stdout is not None
            nodes = json.loads(sim.stdout.readline())
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base in bases:
                wait_http(f"{base}/healthz")
            register(bases[0], nodes, {FRONTEND: SECRET})
            report["max_connections"] = subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(cluster.port),
                    "-U",
                    "postgres",
                    "-Atc",
                    "SHOW max_connections",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            gateways = [f"{b}/bbb/{FRONTEND}/bigbluebutton/api/" for b in bases]

            def creates(prefix: str, through: list[str]) -> list[URL]:
                return [
                    signed(
                        through[i % len(through)],
                        "create",
                        {"meetingID": f"{prefix}-{i}", "name": "Lecture"},
                    )
                    for i in range(args.creates)
                ]

            one, probe_one = asyncio.run(
                with_psql_probe(cluster.port, burst(creates("one", gateways[:1]), 200))
            )
            both, probe_both = asyncio.run(
                with_psql_probe(cluster.port, burst(creates("two", gateways), 200))
            )
            acknowledged = one["outcomes"].get("ok", 0) + both["outcomes"].get("ok", 0)
            counts = asyncio.run(meetings_on_nodes(nodes))
            joins = [
                signed(
                    gateways[i % 2],
                    "join",
                    {"meetingID": f"two-{i % args.creates}", "fullName": f"S{i}", "role": "VIEWER"},
                )
                for i in range(args.joins)
            ]
            joined = asyncio.run(burst(joins, 302))
        logs = "".join((work / f"serve-{i}.log").read_text(errors="replace") for i in (1, 2))
    finally:
        cleanup.close()
    mean = sum(counts) / len(counts)
    report.update(
        {
            "creates_through_one_instance": one,
            "creates_through_two_instances": both,
            "psql_during_bursts": [probe_one, probe_both],
            "meetings_acknowledged": acknowledged,
            "meetings_on_nodes": sum(counts),
            "spread_max_over_mean": round(max(counts) / mean, 3) if mean else None,
            "joins": joined,
            "tracebacks_in_logs": logs.count("Traceback"),
            "warning_lines": sum('"level": "warning"' in line for line in logs.splitlines()),
        }
    )
    print(json.dumps(report, indent=2))
    ok = (
        one["outcomes"] == {"ok": args.creates}
        and both["outcomes"] == {"ok": args.creates}
        and acknowledged == sum(counts)
        and joined["outcomes"] == {"ok": args.joins}
        and all(report["psql_during_bursts"])
        and report["tracebacks_in_logs"] == 0
        and (report["spread_max_over_mean"] or 0) <= 1.10
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

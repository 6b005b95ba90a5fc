"""The b3scale benchmark: ``./build.sh bench`` (or ``python -m bench.run [--quick]``).

Starts a throwaway PostgreSQL, a fleet of simulated BBB nodes (``b3scale sim``), and
``b3scale serve``; registers frontends and backends through the REST API; then drives a bounded
load per scenario and prints a table (and writes JSON to bench/results/). The ceilings, a bare
aiohttp handler and a bare aiohttp proxy to one node, run in the same run on the same machine,
so the ratios compare like with like. Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2

from b3scale.bbb.request import Request, api_base_url
from b3scale.store.embedded import LocalCluster
from b3scale.web.api.auth import sign_token
from bench.load import Result, drive, have_wrk, wrk

ROOT = Path(__file__).resolve().parents[1]
API_SECRET = "bench-api-secret-0123456789-abcdefghijklmnop"  # noqa: S105 - a throwaway server
CONCURRENCY = 64
#: How long the cluster may settle after --meetings grew it (two poll intervals and more).
SETTLE_SECONDS = 30
#: How long the polls may catch up with the measured creates (two poll intervals).
POLLS_SETTLE_SECONDS = 20
#: The frontend whose meetings make the cluster big (the measured frontends keep their share).
FILLER = "filler"


@dataclass(frozen=True)
class Plan:
    nodes: int
    frontends: int
    meetings_per_frontend: int
    burst: int
    big_cluster: int
    seconds: float
    requests: int
    #: How long the idle CPU of serve is measured, at the big cluster.
    idle_seconds: float
    #: Grow the cluster to big_cluster before the calls are measured (--meetings).
    fill_first: bool = False


FULL = Plan(
    nodes=20,
    frontends=20,
    meetings_per_frontend=100,
    burst=200,
    big_cluster=10_000,
    seconds=8,
    requests=2000,
    idle_seconds=60,
)
QUICK = Plan(
    nodes=3,
    frontends=3,
    meetings_per_frontend=20,
    burst=30,
    big_cluster=80,
    seconds=float(os.environ.get("BENCH_SECONDS", "1")),
    requests=100,
    idle_seconds=1,
)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports: all held until all are chosen (one at a time, the
    kernel may hand out the same port twice; a 50,000-meeting run once measured the bare
    handler twice because the proxy could not listen on its port)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def api(method: str, url: str, body: Any = None) -> Any:
    token = sign_token(API_SECRET, "bench", "b3scale:admin", 3600)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read())


def cpu_percent(pid: int, seconds: float) -> float:
    """The share of one core ``pid`` and its children used over the next ``seconds``."""
    before = tree_cpu_seconds(pid)
    time.sleep(seconds)
    return round(100 * (tree_cpu_seconds(pid) - before) / seconds, 1)


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU time of a process and its children (PostgreSQL's postmaster and backends)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        pid = int(stat.parent.name)
        if pid == root_pid or int(fields[1]) == root_pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE if log is None else out,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
        if log:
            out.close()  # type: ignore[union-attr]


def register(
    base: str, nodes: list[dict[str, str]], frontends: dict[str, str], timeout: float = 60
) -> None:
    """The nodes as backends and the frontends (key -> secret) through the REST API, then
    until every backend is healthy (polled)."""
    for node in nodes:
        api(
            "POST",
            f"{base}/api/v1/backends",
            {"bbb": {"host": node["api_url"], "secret": node["secret"]}},
        )
    for key, secret in frontends.items():
        api("POST", f"{base}/api/v1/frontends", {"bbb": {"key": key, "secret": secret}})
    deadline = time.monotonic() + timeout
    while not all(b["healthy"] for b in api("GET", f"{base}/api/v1/backends")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"backends not healthy after {timeout:g} s")
        time.sleep(0.2)


@contextmanager
def throwaway_postgres(
    prefix: str, settings: dict[str, str] | None = None
) -> Iterator[tuple[LocalCluster, Path]]:
    """A PostgreSQL with stock settings (and ``settings``) on a free port, in a folder removed
    afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    work.chmod(0o755)  # the postgres user must reach its data folder
    (work / "pg").mkdir()
    (work / "pg").chmod(0o755)
    cluster = LocalCluster(
        work / "pg",
        tcp_port=free_port(),
        # fsync and synchronous_commit on, as a user runs it: a commit's flush counts.
        durable=True,
        # Which statements cost what (read with --profile); negligible overhead otherwise.
        settings={
            "shared_preload_libraries": "pg_stat_statements",
            "pg_stat_statements.track": "all",
            **(settings or {}),
        },
    )
    cluster.start()
    try:
        yield cluster, work
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


class Bench:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        #: The run's scratch folder (PostgreSQL's data, serve's log), removed afterwards.
        self.workdir = Path("/nonexistent")
        self.results: list[Result] = []
        self.facts: dict[str, Any] = {}
        #: serve's process, whose CPU time each scenario on it is charged with.
        self.serve_pid: int | None = None
        #: With --env: variables for serve (B3SCALE_* from the caller's environment are not
        #: passed on, so a run measures the defaults unless it says otherwise).
        self.serve_env: dict[str, str] = {}
        #: PostgreSQL settings beyond the stock ones (--pg).
        self.pg_settings: dict[str, str] = {}
        #: With --cprofile: serve runs under cProfile (``python -m cProfile -o FILE -m ...``).
        self.serve_prefix: list[str] = []
        #: With --only: the GET scenarios to run (the others, ceilings and idle are skipped).
        self.only: set[str] = set()
        #: PostgreSQL's postmaster, whose processes' CPU time each scenario is charged with.
        self.postgres_pid: int | None = None
        #: The database as its superuser (pg_stat_statements, with --profile).
        self.admin_dsn = ""
        #: With --profile: where py-spy writes each scenario's collapsed stacks of serve.
        self.profile_dir: Path | None = None

    def gateway_url(self, base: str, key: str, call: str, params: dict[str, str]) -> str:
        query = Request.build(call, params).signed_query(f"{key}-secret")
        return f"{base}/bbb/{key}/bigbluebutton/api/{call}?{query}"

    def get(
        self,
        scenario: str,
        url: str,
        ok: tuple[int, ...] = (200,),
        clients: int = CONCURRENCY,
        server_pid: int | None = None,
    ) -> Result:
        """A repeatable GET: wrk when installed, else the aiohttp client. ``server_pid``: the
        process answering, when it is not serve (a ceiling)."""
        if self.only and scenario not in self.only:
            return Result(scenario, "skipped", 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
        with self.charged(scenario, server_pid):
            return self._get(scenario, url, ok, clients)

    @contextmanager
    def charged(self, scenario: str, server_pid: int | None = None) -> Iterator[None]:
        """Adds the server's CPU time per request to the scenario's result (serve's, or the
        ceiling's given by ``server_pid``), and PostgreSQL's when serve answers."""
        pid = server_pid or self.serve_pid
        # serve's workers (B3SCALE_WORKERS) are its children: the tree counts them.
        before = tree_cpu_seconds(pid) if pid else None
        db_before = tree_cpu_seconds(self.postgres_pid) if self.postgres_pid else 0.0
        with self.profiled(scenario):
            yield
        if pid is None or before is None or not self.results:
            return
        if scenario.startswith("ceiling") and server_pid is None:
            return  # a ceiling of another process we do not know (the node itself)
        result = self.results[-1]
        spent = tree_cpu_seconds(pid) - before
        db_spent = tree_cpu_seconds(self.postgres_pid) - db_before if self.postgres_pid else 0.0
        if result.scenario == scenario and result.requests:
            result.serve_cpu_ms = round(spent * 1000 / result.requests, 3)
            if server_pid is None:
                result.db_cpu_ms = round(db_spent * 1000 / result.requests, 3)

    @contextmanager
    def profiled(self, scenario: str) -> Iterator[None]:
        """With --profile, samples serve with py-spy while the scenario runs (collapsed stacks,
        one file per scenario: ``bench/results/profile-*/<scenario>.txt``). py-spy stops serve
        for each sample: read without stopping, the coroutine stacks under uvloop came out torn
        (frames of one request under another's); stopping slows serve, so a profiled run's
        figures are not the run's figures."""
        if self.profile_dir is None or self.serve_pid is None or scenario.startswith("ceiling"):
            yield
            return
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{scenario.replace(' ', '_').replace(',', '')}.txt"
        self.statements(None)
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(self.serve_pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # py-spy attaches
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            self.statements(out.with_suffix(".sql.txt"))

    def statements(self, out: Path | None) -> None:
        """With ``out``: the statements that cost the database most since the last reset
        (pg_stat_statements), written there; then the counts start again."""
        with psycopg2.connect(self.admin_dsn) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            if out is not None:
                cur.execute(
                    "SELECT calls, round(total_exec_time::numeric, 1),"
                    " round(mean_exec_time::numeric, 3), left(regexp_replace(query, '\\s+', ' ',"
                    " 'g'), 300) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25"
                )
                lines = [f"{c:>8} calls {t:>10} ms total {m:>8} ms mean  {q}" for c, t, m, q in cur]
                out.write_text("\n".join(lines) + "\n")
            cur.execute("SELECT pg_stat_statements_reset()")

    def _get(self, scenario: str, url: str, ok: tuple[int, ...], clients: int) -> Result:
        if have_wrk():
            result = wrk(scenario, url, clients, self.plan.seconds)
        else:
            result = asyncio.run(
                drive(
                    scenario,
                    lambda i: url,
                    self.plan.requests * 5,
                    clients,
                    ok_status=ok,
                    time_cap=self.plan.seconds,
                )
            )
        self.results.append(result)
        return result

    def run(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("B3SCALE_")}
        self.facts["postgres_settings"] = self.pg_settings
        with throwaway_postgres("b3scale-bench-", self.pg_settings) as (cluster, work):
            self.workdir = work
            self.postgres_pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
            self.admin_dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
            self._run(cluster, env)

    def _run(self, cluster: LocalCluster, env: dict[str, str]) -> None:
        plan = self.plan
        dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
        b3 = [sys.executable, "-m", "b3scale"]
        with process([*b3, "sim", "--nodes", str(plan.nodes), "--json"], env) as sim:
            assert sim.stdout is not None
            # The nodes listen before serve's port is chosen: a node cannot take it.
            nodes = json.loads(sim.stdout.readline())
            serve_port = free_port()
            with process(
                [*self.serve_prefix, "-m", "b3scale", "serve"]
                if self.serve_prefix
                else [*b3, "serve"],
                {
                    **env,
                    "B3SCALE_DB_URL": dsn,
                    "B3SCALE_DB_POOL_SIZE": "32",
                    "B3SCALE_API_JWT_SECRET": API_SECRET,
                    "B3SCALE_LISTEN_HTTP": f"127.0.0.1:{serve_port}",
                    **self.serve_env,
                },
                self.workdir / "serve.log",
            ) as serve:
                base = f"http://127.0.0.1:{serve_port}"
                wait_http(f"{base}/healthz")
                self.facts["serve_rss_mb_idle"] = rss_mb(serve.pid)
                self.facts["serve_env"] = self.serve_env
                keys = [f"fe{i}" for i in range(plan.frontends)]
                frontends = {key: f"{key}-secret" for key in [*keys, FILLER]}
                register(base, nodes, frontends)
                self.serve_pid = serve.pid
                self._scenarios(base, keys, nodes, serve.pid)

    def _scenarios(
        self, base: str, keys: list[str], nodes: list[dict[str, str]], serve_pid: int
    ) -> None:
        plan = self.plan
        # 1. Burst placement: simultaneous creates on an empty cluster.
        burst = asyncio.run(
            drive(
                "burst create",
                lambda i: self.gateway_url(
                    base, keys[0], "create", {"meetingID": f"burst-{i}", "name": "B"}
                ),
                plan.burst,
                plan.burst,
            )
        )
        self.results.append(burst)
        counts = [b["meetings_count"] for b in api("GET", f"{base}/api/v1/backends")]
        mean = sum(counts) / len(counts)
        self.facts["burst"] = {
            "creates": plan.burst,
            "per_backend": sorted(counts),
            "per_backend_max": max(counts),
            "per_backend_mean": round(mean, 2),
            "max_over_mean": round(max(counts) / mean, 3) if mean else None,
        }
        # 1b. With --meetings: the cluster grows to that size first (meetings of a frontend of
        # their own, so each measured frontend still has its share), and every call below is
        # measured at that size.
        if plan.fill_first:
            self._fill(base, plan.big_cluster - plan.frontends * plan.meetings_per_frontend)
            # Measured in the steady state at that size, not in the fill's wake: the first
            # polls after it write every new meeting's details and autovacuum tidies up.
            time.sleep(SETTLE_SECONDS if plan.idle_seconds > 5 else 0)
        # 2. Create: new meetings, until every frontend has its share.
        total = plan.frontends * plan.meetings_per_frontend - plan.burst

        def create_url(i: int) -> str:
            key = keys[1 + i % (len(keys) - 1)] if len(keys) > 1 else keys[0]
            return self.gateway_url(base, key, "create", {"meetingID": f"m-{i}", "name": "M"})

        with self.charged("create"):
            self.results.append(asyncio.run(drive("create", create_url, total, CONCURRENCY)))
        self.facts["meetings_in_cluster"] = (
            plan.big_cluster if plan.fill_first else plan.frontends * plan.meetings_per_frontend
        )
        # The calls below are measured in the steady state: the first poll of each backend
        # after the creates writes every new meeting's full details once (measured: 5 % of
        # serve's CPU in a getMeetingInfo run right after them), which is the creates' cost.
        time.sleep(POLLS_SETTLE_SECONDS if plan.idle_seconds > 5 else 0)
        # 3. The GET calls, on meetings that exist.
        join_url = self.gateway_url(
            base,
            keys[0],
            "join",
            {"meetingID": "burst-1", "fullName": "Bench User", "role": "viewer"},
        )
        get_meetings_url = self.gateway_url(base, keys[0], "getMeetings", {})
        self.get("join", join_url, ok=(302,))
        self.get("getMeetings", get_meetings_url)
        self.get("getMeetings, 1 client", get_meetings_url, clients=1)
        self.get("join, 1 client", join_url, ok=(302,), clients=1)
        self.get(
            "isMeetingRunning",
            self.gateway_url(base, keys[0], "isMeetingRunning", {"meetingID": "burst-1"}),
        )
        self.get(
            "getMeetingInfo",
            self.gateway_url(base, keys[0], "getMeetingInfo", {"meetingID": "burst-1"}),
        )
        # The same call straight to the node that holds the meeting: what the node (here, the
        # simulator sharing the cores) adds, apart from b3scale.
        node = self._node_of(base, keys[0], "burst-1")
        if node:
            request = Request.build("isMeetingRunning", {"meetingID": node[2]})
            self.get("ceiling: isMeetingRunning on its node", request.url(node[0], node[1]))
        if self.only:
            return
        # 4. The ceilings, on the same machine in the same run.
        bare_port, proxy_port = free_ports(2)
        with (
            process([sys.executable, "-m", "bench.bare", "redirect", str(bare_port)]) as bare,
            process(
                [
                    sys.executable,
                    "-m",
                    "bench.bare",
                    "proxy",
                    str(proxy_port),
                    # The node of the measured meeting (the forwarding ceilings ask about it).
                    api_base_url(node[0]) if node else nodes[0]["api_url"],
                    node[1] if node else nodes[0]["secret"],
                ]
            ) as proxy,
        ):
            wait_port(bare_port)
            wait_port(proxy_port)
            time.sleep(0.5)
            if bare.poll() is not None or proxy.poll() is not None:
                raise RuntimeError("a ceiling's server exited at start (its port was taken?)")
            self.get(
                "ceiling: bare handler",
                f"http://127.0.0.1:{bare_port}/join",
                ok=(302,),
                server_pid=bare.pid,
            )
            if node:
                # The same forwarding calls through a bare proxy to the meeting's node.
                for call in ("isMeetingRunning", "getMeetingInfo"):
                    query = Request.build(call, {"meetingID": node[2]}).query
                    self.get(
                        f"ceiling: bare proxy {call}",
                        f"http://127.0.0.1:{proxy_port}/{call}?{query}",
                        server_pid=proxy.pid,
                    )

            def proxy_query(i: int) -> str:
                return Request.build("create", {"meetingID": f"proxy-{i}", "name": "P"}).query

            self.results.append(
                asyncio.run(
                    drive(
                        "ceiling: bare proxy create",
                        lambda i: f"http://127.0.0.1:{proxy_port}/create?{proxy_query(i)}",
                        total,
                        CONCURRENCY,
                    )
                )
            )
        # 5. Memory at a big cluster.
        if not plan.fill_first:
            self._fill(base, plan.big_cluster - self.facts["meetings_in_cluster"])
        self.facts["serve_rss_mb_big_cluster"] = rss_mb(serve_pid)
        self.facts["big_cluster_meetings"] = plan.big_cluster
        # 6. What polls cost while nothing else happens (every backend every 10 s), once the
        # polls have caught up with the fill (two intervals).
        time.sleep(20 if plan.idle_seconds > 5 else 0)
        self.facts["serve_idle_cpu_percent_big_cluster"] = cpu_percent(serve_pid, plan.idle_seconds)

    def _node_of(self, base: str, key: str, meeting: str) -> tuple[str, str, str] | None:
        """The API URL and secret of the backend holding ``meeting``, and the meetingID it
        knows the meeting by."""
        [frontend] = api("GET", f"{base}/api/v1/frontends?key={key}")
        meetings = api("GET", f"{base}/api/v1/meetings?frontend_id={frontend['id']}")
        found = [m for m in meetings if m["meeting_id"] == meeting and m["backend_id"]]
        if not found:
            return None
        backend = api("GET", f"{base}/api/v1/backends/{found[0]['backend_id']}")
        return backend["bbb"]["host"], backend["bbb"]["secret"], found[0]["id"]

    def _fill(self, base: str, more: int) -> None:
        """``more`` meetings of the frontend FILLER, created through the gateway."""
        if more <= 0:
            return
        filler = asyncio.run(
            drive(
                "fill to big cluster",
                lambda i: self.gateway_url(
                    base, FILLER, "create", {"meetingID": f"fill-{i}", "name": "F"}
                ),
                more,
                CONCURRENCY,
                time_cap=900,
            )
        )
        self.facts["fill_errors"] = filler.errors

    def report(self) -> dict[str, Any]:
        by_name = {r.scenario: r for r in self.results}

        def ratio(ours: str, ceiling: str) -> float | None:
            a, b = by_name.get(ours), by_name.get(ceiling)
            return round(a.rps / b.rps, 3) if a and b and b.rps else None

        self.facts["ratios"] = {
            "join / bare handler": ratio("join", "ceiling: bare handler"),
            "create / bare proxy": ratio("create", "ceiling: bare proxy create"),
            "isMeetingRunning / bare proxy": ratio(
                "isMeetingRunning", "ceiling: bare proxy isMeetingRunning"
            ),
            "getMeetingInfo / bare proxy": ratio(
                "getMeetingInfo", "ceiling: bare proxy getMeetingInfo"
            ),
        }
        return {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_tool": "wrk" if have_wrk() else "aiohttp-client",
                "concurrency": CONCURRENCY,
            },
            "plan": self.plan.__dict__,
            "results": [r.as_dict() for r in self.results],
            "facts": self.facts,
        }


def print_table(report: dict[str, Any]) -> None:
    header = (
        f"{'scenario':<28}{'tool':>16}{'requests':>10}{'errors':>8}{'req/s':>10}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'cpu ms/req':>11}{'db cpu ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in report["results"]:
        print(
            f"{r['scenario']:<28}{r['tool']:>16}{r['requests']:>10}{r['errors']:>8}"
            f"{r['rps']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}"
            f"{r.get('serve_cpu_ms') or '':>11}{r.get('db_cpu_ms') or '':>10}"
        )
    print()
    print(json.dumps(report["facts"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (seconds)")
    parser.add_argument(
        "--meetings",
        type=int,
        default=0,
        help="grow the cluster to this many meetings before measuring the calls (and memory "
        "and idle CPU at that size); without it calls run at 2,000 and memory at 10,000",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results", help="folder for the JSON report"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample serve with py-spy (pip install py-spy) during each scenario; collapsed "
        "stacks go to bench/results/profile-<time>/",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="run only this GET scenario after the creates (repeatable; e.g. 'join'); skips "
        "the ceilings, memory and idle CPU",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for serve (repeatable), e.g. B3SCALE_WORKERS=2",
    )
    parser.add_argument(
        "--pg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting (repeatable); e.g. commit_delay=1000 makes each flushed "
        "commit wait 1 ms first, as on a cloud disk whose flush takes that long",
    )
    parser.add_argument(
        "--cprofile",
        type=Path,
        metavar="FILE",
        help="run serve under cProfile and write its statistics to FILE when it stops "
        "(deterministic counts of every call; slows serve down)",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.meetings:
        plan = dataclasses.replace(plan, big_cluster=args.meetings, fill_first=True)
    bench = Bench(plan)
    bench.only = set(args.only)
    if args.cprofile:
        bench.serve_prefix = [sys.executable, "-m", "cProfile", "-o", str(args.cprofile.resolve())]
    bench.serve_env = dict(item.split("=", 1) for item in args.env)
    bench.pg_settings = dict(item.split("=", 1) for item in args.pg)
    if args.profile:
        bench.profile_dir = args.out / f"profile-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        bench.run()
    finally:
        report = bench.report()
    print_table(report)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

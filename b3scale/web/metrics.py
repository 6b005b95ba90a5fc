"""``GET /metrics``: Prometheus text format (aioprometheus).

Gauges describe the cluster, read from the database at scrape time, so every instance exports
the same values and they are never older than the scrape. Counters and histograms describe
this instance's own work (sum them across instances). Label values are bounded: routes are
templates (``/bbb/{key}/{tail}``), calls are BBB's call names, backends are their URLs,
frontends their keys; never a meeting ID, a query string, a checksum or a secret.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aioprometheus import histogram
from aioprometheus.collectors import Counter, Gauge, Histogram, Registry
from aioprometheus.renderer import render

from b3scale import __version__
from b3scale.cluster.stats import ClusterStats
from b3scale.store.backends import select_backends
from b3scale.store.callbacks import pending_count as pending_callbacks
from b3scale.store.db import Database
from b3scale.store.meetings import select_frontend_load
from b3scale.web.keys import CONFIG, DATABASE, METRICS, STATS

#: BBB calls get their own label value; anything else is "other".
KNOWN_CALLS = frozenset(
    {
        "",
        "create",
        "join",
        "end",
        "isMeetingRunning",
        "getMeetingInfo",
        "getMeetings",
        "getRecordings",
        "publishRecordings",
        "updateRecordings",
        "deleteRecordings",
        "getRecordingTextTracks",
        "putRecordingTextTrack",
        "insertDocument",
        "sendChatMessage",
    }
)
STATES = ("init", "ready", "error", "stopped", "decommissioned")
LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


class Latencies:
    """One route's latency histogram: a count per bucket found by bisection (a Prometheus
    histogram increments every bucket above the value, a loop on each request); the
    cumulative counts Prometheus shows are summed at a scrape."""

    __slots__ = ("counts", "observations", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last is +Inf
        self.sum = 0.0
        self.observations = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds
        self.observations += 1

    def cumulative(self) -> list[int]:
        return list(itertools.accumulate(self.counts))


class Metrics:
    """This instance's counters; the cluster gauges are made fresh at every scrape.

    Requests are counted in plain dictionaries (a join must not pay for a labelled collector's
    bookkeeping); the Prometheus collectors are made from them at each scrape.
    """

    def __init__(self) -> None:
        self._http: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self._latency: dict[str, Latencies] = {}
        self._bbb: collections.Counter[tuple[str, str]] = collections.Counter()

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        self._http[(route, method, status)] += 1
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = Latencies()
        latency.observe(seconds)

    def observe_bbb(self, call: str, result: str) -> None:
        name = call if call in KNOWN_CALLS else "other"
        self._bbb[(name or "version", result)] += 1

    def snapshot(self, stats: ClusterStats) -> Snapshot:
        """This process's counts, as JSON-able data (workers share them through files)."""
        return {
            "http": [[r, m, s, n] for (r, m, s), n in self._http.items()],
            "latency": {
                route: [h.cumulative(), h.sum, h.observations] for route, h in self._latency.items()
            },
            "bbb": [[c, r, n] for (c, r), n in self._bbb.items()],
            "placements": dict(stats.placements),
            "callbacks": dict(stats.callbacks),
            "refusals": [[f, r, n] for (f, r), n in stats.refusals.items()],
        }

    async def render(
        self,
        db: Database,
        stats: ClusterStats,
        accepts: list[str],
        siblings: Sequence[Snapshot] = (),
    ) -> web.Response:
        """The text format: this process's counts plus ``siblings`` (the other workers')."""
        registry = Registry()
        _counters(registry, merged([self.snapshot(stats), *siblings]))
        info = Gauge("b3scale_build_info", "Version of this instance", registry=registry)
        info.set({"version": __version__}, 1)
        await _cluster_gauges(db, registry)
        body, headers = render(registry, accepts)
        return web.Response(body=body, headers=headers)


#: Counts of one process, or of all workers summed: see :meth:`Metrics.snapshot`.
Snapshot = dict[str, Any]


def merged(snapshots: list[Snapshot]) -> Snapshot:
    """The sum of several processes' counts."""
    http: collections.Counter[tuple[str, str, int]] = collections.Counter()
    bbb: collections.Counter[tuple[str, str]] = collections.Counter()
    latency: dict[str, list[Any]] = {}
    placements: collections.Counter[str] = collections.Counter()
    callbacks: collections.Counter[str] = collections.Counter()
    refusals: collections.Counter[tuple[str, str]] = collections.Counter()
    for snap in snapshots:
        for route, method, status, count in snap.get("http", []):
            http[(route, method, int(status))] += count
        for call, result, count in snap.get("bbb", []):
            bbb[(call, result)] += count
        for route, (buckets, total, observations) in snap.get("latency", {}).items():
            sums = latency.setdefault(route, [[0] * len(buckets), 0.0, 0])
            sums[0] = [a + b for a, b in zip(sums[0], buckets, strict=True)]
            sums[1] += total
            sums[2] += observations
        placements.update(snap.get("placements", {}))
        callbacks.update(snap.get("callbacks", {}))
        for frontend, reason, count in snap.get("refusals", []):
            refusals[(frontend, reason)] += count
    return {
        "http": [[r, m, s, n] for (r, m, s), n in http.items()],
        "latency": latency,
        "bbb": [[c, r, n] for (c, r), n in bbb.items()],
        "placements": dict(placements),
        "callbacks": dict(callbacks),
        "refusals": [[f, r, n] for (f, r), n in refusals.items()],
    }


def _counters(registry: Registry, snap: Snapshot) -> None:
    http = Counter(
        "b3scale_http_requests_total",
        "HTTP requests by route template, method and status",
        registry=registry,
    )
    for route, method, status, count in snap["http"]:
        http.set({"route": route, "method": method, "status": str(status)}, count)
    latency = Histogram(
        "b3scale_http_request_duration_seconds",
        "HTTP request latency by route template",
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    for route, (buckets, total, observations) in snap["latency"].items():
        observed = histogram.Histogram(*LATENCY_BUCKETS)
        for bound, count in zip(list(observed.buckets), buckets, strict=True):
            observed.buckets[bound] = count
        observed.sum, observed.observations = total, observations
        latency.set_value({"route": route}, observed)
    bbb = Counter(
        "b3scale_bbb_requests_total",
        "BBB API calls from frontends by call and result (SUCCESS, FAILED, redirect, ...)",
        registry=registry,
    )
    for call, result, count in snap["bbb"]:
        bbb.set({"call": call, "result": result}, count)
    placements = Counter(
        "b3scale_placements_total",
        "New meetings placed by this instance, or refused (no_backend)",
        registry=registry,
    )
    for result in ("placed", "no_backend"):
        placements.set({"result": result}, snap["placements"].get(result, 0))
    callbacks = Counter(
        "b3scale_callbacks_total",
        "Callback deliveries to frontends by this instance: delivered, retried, given_up",
        registry=registry,
    )
    for result in ("delivered", "retried", "given_up"):
        callbacks.set({"result": result}, snap["callbacks"].get(result, 0))
    refusals = Counter(
        "b3scale_frontend_refusals_total",
        "Calls refused by a frontend's limits, by frontend and messageKey "
        "(attendeesLimitReached, meetingsLimitReached, voiceBridgeInUse)",
        registry=registry,
    )
    for frontend, reason, count in snap["refusals"]:
        refusals.set({"frontend": frontend, "reason": reason}, count)


async def _cluster_gauges(db: Database, registry: Registry) -> None:
    def gauge(name: str, doc: str) -> Gauge:
        return Gauge(name, doc, registry=registry)

    meetings = gauge("b3scale_backend_meetings", "Meetings on the backend (breakouts apart)")
    breakouts = gauge("b3scale_backend_breakout_rooms", "Breakout rooms on the backend")
    attendees = gauge("b3scale_backend_attendees", "Attendees on the backend")
    backend_load = gauge(
        "b3scale_backend_load", "Placement load: load_factor x max(15 x meetings, attendees)"
    )
    factor = gauge("b3scale_backend_load_factor", "The backend's load factor")
    healthy = gauge("b3scale_backend_healthy", "1 when the backend may take meetings by health")
    admin = gauge("b3scale_backend_admin_state", "1 for the backend's admin state")
    node = gauge("b3scale_backend_node_state", "1 for the backend's observed state")
    latency = gauge("b3scale_backend_latency_seconds", "Round trip of the last successful poll")
    synced = gauge(
        "b3scale_backend_last_poll_success_timestamp_seconds",
        "When the last poll succeeded (Unix time; 0 = never)",
    )
    heartbeat = gauge(
        "b3scale_backend_agent_heartbeat_age_seconds",
        "Seconds since the node agent's last heartbeat (absent without an agent)",
    )
    now = datetime.now(UTC)
    for b in await select_backends(db):
        labels = {"backend": b.host}
        meetings.set(labels, b.meetings_count)
        breakouts.set(labels, b.breakouts_count)
        attendees.set(labels, b.attendees_count)
        backend_load.set(labels, b.load)
        factor.set(labels, b.load_factor)
        healthy.set(labels, 1 if b.healthy else 0)
        for state in STATES:
            admin.set({**labels, "state": state}, 1 if b.admin_state == state else 0)
            node.set({**labels, "state": state}, 1 if b.node_state == state else 0)
        latency.set(labels, b.latency / 1e9)
        synced.set(labels, b.synced_at.timestamp() if b.synced_at else 0)
        if b.agent_heartbeat is not None:
            heartbeat.set(labels, max(0.0, (now - b.agent_heartbeat).total_seconds()))
    queued = gauge("b3scale_callbacks_pending", "Callbacks waiting to be delivered (cluster)")
    queued.set({}, await pending_callbacks(db))
    fe_meetings = gauge("b3scale_frontend_meetings", "The frontend's meetings")
    fe_attendees = gauge("b3scale_frontend_attendees", "Attendees in the frontend's meetings")
    for row in await select_frontend_load(db):
        fe_meetings.set({"frontend": row["key"]}, row["meetings"])
        fe_attendees.set({"frontend": row["key"]}, int(row["attendees"]))


#: Methods counted by name; anything a client invents is "other" (bounded label values).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def metrics_middleware(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            method = request.method if request.method in KNOWN_METHODS else "other"
            metrics.observe_http(
                route_template(request), method, status, time.monotonic() - started
            )

    return middleware


async def metrics_endpoint(request: web.Request) -> web.Response:
    app = request.app
    config = app[CONFIG]
    siblings = (
        read_siblings(Path(config.metrics_dir), config.worker_index)
        if config.metrics_dir is not None
        else []
    )
    return await app[METRICS].render(
        app[DATABASE], app[STATS], request.headers.getall("Accept", []), siblings
    )


# -- workers (serve --workers N) share their counts through small files --------------------

#: How often a worker writes its counts for the others.
SHARE_INTERVAL = 1.0


def read_siblings(folder: Path, own: int | None) -> list[Snapshot]:
    """The other workers' last counts (at most SHARE_INTERVAL old)."""
    found = []
    for path in folder.glob("worker-*.json"):
        if path.name == f"worker-{own}.json":
            continue
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text()))
    return found


async def share_counts_ctx(app: web.Application) -> AsyncIterator[None]:
    """A worker writes its counts every second, so whichever worker a scrape reaches
    answers for all of them."""
    config = app[CONFIG]
    if config.metrics_dir is None:
        yield
        return
    target = Path(config.metrics_dir) / f"worker-{config.worker_index}.json"

    def write() -> None:
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(app[METRICS].snapshot(app[STATS])))
        temporary.replace(target)  # readers never see half a file

    async def loop() -> None:
        while True:
            with contextlib.suppress(OSError):
                write()
            await asyncio.sleep(SHARE_INTERVAL)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

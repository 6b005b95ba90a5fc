"""The ``backends`` table: BBB nodes, their states, health and load counters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from b3scale.store.db import Database, Row, Session

# "Healthy" and "load" are defined once, in the database (migration 0003), because placement
# runs there: a fresh agent heartbeat while polls do not fail, or without an agent a successful
# poll; load_factor x max(15 x meetings, attendees), a breakout weighing a quarter meeting.
HEALTHY_SQL = "b3scale_backend_healthy(b)"
LOAD_SQL = "b3scale_backend_load(b)"


@dataclass(frozen=True, slots=True)
class Backend:
    id: UUID
    host: str
    secret: str
    checksum_algorithm: str
    admin_state: str
    node_state: str
    load_factor: float
    agent_heartbeat: datetime | None
    agent_ref: str | None
    latency: int
    last_error: str | None
    poll_failures: int
    poll_successes: int
    meetings_count: int
    breakouts_count: int
    attendees_count: int
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    synced_at: datetime | None
    healthy: bool
    #: What placement compares (least first).
    load: float

    @classmethod
    def from_row(cls, row: Row) -> Backend:
        return cls(**row)

    @property
    def tags(self) -> list[str]:
        tags = self.settings.get("tags") or []
        return [str(t) for t in tags] if isinstance(tags, list) else []


_SELECT = (
    "SELECT b.id, b.host, b.secret, b.checksum_algorithm, b.admin_state::text AS admin_state, "
    "b.node_state::text AS node_state, b.load_factor, b.agent_heartbeat, b.agent_ref, "
    "b.latency, b.last_error, b.poll_failures, b.poll_successes, b.meetings_count, "
    "b.breakouts_count, b.attendees_count, b.settings, b.created_at, b.updated_at, "
    "b.synced_at, " + HEALTHY_SQL + " AS healthy, " + LOAD_SQL + " AS load FROM backends b "
)


async def select_backend(db: Database | Session, backend_id: UUID) -> Backend | None:
    row = await db.fetch_one(_SELECT + "WHERE b.id = %s", (backend_id,))
    return Backend.from_row(row) if row else None


async def select_backend_by_host(db: Database | Session, host: str) -> Backend | None:
    row = await db.fetch_one(_SELECT + "WHERE b.host = %s", (host,))
    return Backend.from_row(row) if row else None


async def select_backend_by_agent_ref(db: Database | Session, agent_ref: str) -> Backend | None:
    """The backend a node agent's token is bound to (its ``sub``)."""
    row = await db.fetch_one(_SELECT + "WHERE b.agent_ref = %s", (agent_ref,))
    return Backend.from_row(row) if row else None


async def bind_agent_ref(db: Database | Session, backend_id: UUID, agent_ref: str | None) -> bool:
    """Bind a backend to a node agent's reference (None: unbind); False if the row is gone."""
    return (
        await db.execute(
            "UPDATE backends SET agent_ref = %s, updated_at = now() WHERE id = %s",
            (agent_ref, backend_id),
        )
        > 0
    )


async def select_backends(db: Database | Session) -> list[Backend]:
    return [Backend.from_row(r) for r in await db.fetch_all(_SELECT + "ORDER BY b.host")]


async def claim_due_polls(
    db: Database | Session, lease_seconds: float, agent_lease_seconds: float | None = None
) -> list[Backend]:
    """Backends due for a poll, leased to this instance for ``lease_seconds``.

    Every instance calls this; a backend is leased to one of them, so each backend is polled
    once per interval across the cluster, and by another instance if its poller dies. A
    backend whose node agent reports (a fresh heartbeat) is leased for ``agent_lease_seconds``:
    its events carry the changes, the poll only checks.
    """
    rows = await db.fetch_all(
        "UPDATE backends b SET poll_lease_until = now() + make_interval(secs => "
        "  CASE WHEN b.agent_heartbeat > now() - interval '5 seconds' THEN %(agent)s "
        "  ELSE %(plain)s END) "
        "WHERE poll_lease_until IS NULL OR poll_lease_until <= now() RETURNING id",
        {"plain": lease_seconds, "agent": agent_lease_seconds or lease_seconds},
    )
    if not rows:
        return []
    claimed = await db.fetch_all(_SELECT + "WHERE b.id = ANY(%s)", ([r["id"] for r in rows],))
    return [Backend.from_row(r) for r in claimed]


async def request_poll(db: Database | Session, backend_id: UUID) -> None:
    """Poll this backend at the next chance (after it was added or enabled)."""
    await db.execute(
        "UPDATE backends SET poll_lease_until = NULL WHERE id = %s; "
        "SELECT pg_notify('b3scale_poll', %s)",
        (backend_id, str(backend_id)),
    )


async def insert_backend(
    db: Database | Session,
    host: str,
    secret: str,
    *,
    settings: dict[str, Any] | None = None,
    admin_state: str = "ready",
    load_factor: float = 1.0,
    checksum_algorithm: str = "sha256",
    agent_ref: str | None = None,
) -> Backend:
    row = await db.fetch_one(
        "INSERT INTO backends (host, secret, settings, admin_state, load_factor, "
        "checksum_algorithm, agent_ref) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            host,
            secret,
            json.dumps(settings or {}),
            admin_state,
            load_factor,
            checksum_algorithm,
            agent_ref,
        ),
    )
    assert row is not None
    backend = await select_backend(db, row["id"])
    assert backend is not None
    return backend


async def select_backends_filtered(
    db: Database | Session, *, host: str | None = None, host_like: str | None = None
) -> list[Backend]:
    rows = await db.fetch_all(
        _SELECT + "WHERE (%(host)s::text IS NULL OR b.host = %(host)s) "
        "AND (%(like)s::text IS NULL OR b.host ILIKE '%%' || %(like)s || '%%') ORDER BY b.host",
        {"host": host, "like": host_like},
    )
    return [Backend.from_row(r) for r in rows]


async def update_backend(
    db: Database | Session,
    backend_id: UUID,
    *,
    host: str,
    secret: str,
    settings: dict[str, Any],
    admin_state: str,
    load_factor: float,
    checksum_algorithm: str,
) -> Backend | None:
    count = await db.execute(
        "UPDATE backends SET host = %s, secret = %s, settings = %s, admin_state = %s, "
        "load_factor = %s, checksum_algorithm = %s, updated_at = now() WHERE id = %s",
        (
            host,
            secret,
            json.dumps(settings),
            admin_state,
            load_factor,
            checksum_algorithm,
            backend_id,
        ),
    )
    return await select_backend(db, backend_id) if count else None


async def set_admin_state(db: Database | Session, backend_id: UUID, state: str) -> None:
    await db.execute(
        "UPDATE backends SET admin_state = %s, updated_at = now() WHERE id = %s",
        (state, backend_id),
    )


async def record_poll_success(
    db: Database | Session, backend_id: UUID, latency_ns: int, successes_for_ready: int
) -> None:
    """A successful poll: a new node is ``ready`` at once, one that was down after
    ``successes_for_ready`` good polls in a row (hysteresis)."""
    await db.execute(
        "UPDATE backends SET poll_successes = poll_successes + 1, poll_failures = 0, "
        "latency = %s, last_error = NULL, synced_at = now(), "
        "node_state = CASE WHEN node_state IN ('ready', 'init') OR poll_successes + 1 >= %s "
        "  THEN 'ready'::instance_state ELSE node_state END "
        "WHERE id = %s",
        (latency_ns, successes_for_ready, backend_id),
    )


async def record_poll_failure(
    db: Database | Session, backend_id: UUID, error: str, failures_for_error: int
) -> None:
    """A failed poll; the node is ``error`` after ``failures_for_error`` in a row."""
    await db.execute(
        "UPDATE backends SET poll_failures = poll_failures + 1, poll_successes = 0, "
        "last_error = %s, "
        "node_state = CASE WHEN poll_failures + 1 >= %s OR node_state = 'init' "
        "  THEN 'error'::instance_state ELSE node_state END "
        "WHERE id = %s",
        (error, failures_for_error, backend_id),
    )


async def refresh_load(db: Database | Session, backend_id: UUID) -> None:
    """Recompute the load counters from the meetings table (one source of truth)."""
    await db.execute(
        "UPDATE backends b SET "
        "meetings_count = c.meetings, breakouts_count = c.breakouts, attendees_count = c.attendees "
        "FROM (SELECT count(*) FILTER (WHERE NOT is_breakout) AS meetings, "
        "             count(*) FILTER (WHERE is_breakout) AS breakouts, "
        "             coalesce(sum(attendees_count), 0) AS attendees "
        "      FROM meetings WHERE backend_id = %(id)s) c "
        "WHERE b.id = %(id)s",
        {"id": backend_id},
    )


async def delete_if_drained(db: Database | Session, backend_id: UUID) -> bool:
    """Delete a decommissioned backend once no meeting runs on it (with its meeting rows)."""
    return (
        await db.execute(
            "DELETE FROM backends b WHERE b.id = %(id)s AND b.admin_state = 'decommissioned' "
            "AND NOT EXISTS (SELECT 1 FROM meetings m WHERE m.backend_id = %(id)s AND m.running)",
            {"id": backend_id},
        )
        > 0
    )


async def delete_backend(db: Database | Session, backend_id: UUID) -> bool:
    return await db.execute("DELETE FROM backends WHERE id = %s", (backend_id,)) > 0

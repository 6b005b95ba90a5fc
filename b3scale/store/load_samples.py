"""The ``backend_load_samples`` table: each backend's load, meetings and attendees every
``SAMPLE_EVERY`` seconds, for the dashboard's history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from b3scale.store.backends import LOAD_SQL
from b3scale.store.db import Database, Session

#: Seconds between samples; every sample's time is a multiple of it (so instances agree).
SAMPLE_EVERY = 30
#: How long samples are kept.
KEEP_SECONDS = 3600


async def record_samples(db: Database | Session) -> int:
    """Sample every backend now (a no-op for a moment another instance sampled already) and
    forget samples older than KEEP_SECONDS; returns how many samples this call added."""
    added = await db.execute(
        "INSERT INTO backend_load_samples (backend_id, sampled_at, load, meetings, attendees) "
        "SELECT b.id, to_timestamp(floor(extract(epoch FROM now()) / %(every)s) * %(every)s), "
        + LOAD_SQL
        + ", b.meetings_count, b.attendees_count FROM backends b "
        "ON CONFLICT ON CONSTRAINT backend_load_samples_pkey DO NOTHING",
        {"every": SAMPLE_EVERY},
    )
    await db.execute(
        "DELETE FROM backend_load_samples WHERE sampled_at < now() - make_interval(secs => %s)",
        (KEEP_SECONDS,),
    )
    return added


async def select_samples(db: Database | Session) -> dict[UUID, list[tuple[int, float, int, int]]]:
    """Per backend, its samples of the last KEEP_SECONDS, oldest first: (unix time, load,
    meetings, attendees)."""
    rows = await db.fetch_all(
        "SELECT backend_id, extract(epoch FROM sampled_at)::bigint AS at, load, meetings, "
        "attendees FROM backend_load_samples "
        "WHERE sampled_at >= now() - make_interval(secs => %s) ORDER BY backend_id, sampled_at",
        (KEEP_SECONDS,),
    )
    history: dict[UUID, list[tuple[int, float, int, int]]] = {}
    for row in rows:
        history.setdefault(row["backend_id"], []).append(_sample(row))
    return history


def _sample(row: dict[str, Any]) -> tuple[int, float, int, int]:
    return int(row["at"]), float(row["load"]), int(row["meetings"]), int(row["attendees"])

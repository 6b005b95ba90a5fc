"""The ``callbacks`` table: deliveries to frontends, leased by one instance at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from b3scale.store.db import Database, Row, Session

#: How long an instance may take over a delivery before another may try it.
LEASE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Callback:
    id: int
    frontend_id: UUID
    kind: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Callback:
        return cls(**{**row, "body": bytes(row["body"])})


_COLUMNS = (
    "id, frontend_id, kind, method, url, headers, body, state, attempts, next_attempt_at, "
    "last_error, created_at"
)


async def enqueue(
    db: Database | Session,
    frontend_id: UUID,
    kind: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
) -> int:
    return int(
        await db.fetch_value(
            "INSERT INTO callbacks (frontend_id, kind, method, url, headers, body) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (frontend_id, kind, method, url, json.dumps(headers), body),
        )
    )


async def claim_due(db: Database, limit: int = 20) -> list[Callback]:
    """Pending deliveries that are due and not leased, leased now to the caller."""
    rows = await db.fetch_all(
        "UPDATE callbacks SET leased_until = now() + make_interval(secs => %(lease)s), "
        "attempts = attempts + 1 WHERE id IN ("
        "  SELECT id FROM callbacks WHERE state = 'pending' AND next_attempt_at <= now() "
        "  AND (leased_until IS NULL OR leased_until < now()) ORDER BY next_attempt_at, id "
        "  LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING " + _COLUMNS,
        {"lease": LEASE_SECONDS, "limit": limit},
    )
    return [Callback.from_row(r) for r in rows]


async def finish(db: Database, callback_id: int, state: str, error: str | None) -> None:
    """``delivered`` or ``failed`` (given up): no more attempts."""
    await db.execute(
        "UPDATE callbacks SET state = %s, last_error = %s, finished_at = now(), "
        "leased_until = NULL WHERE id = %s",
        (state, error, callback_id),
    )


async def retry_later(db: Database, callback_id: int, delay: float, error: str) -> None:
    await db.execute(
        "UPDATE callbacks SET next_attempt_at = now() + make_interval(secs => %s), "
        "last_error = %s, leased_until = NULL WHERE id = %s",
        (delay, error, callback_id),
    )


async def select_callbacks(db: Database, states: tuple[str, ...], limit: int = 500) -> list[Row]:
    """For operators: the newest deliveries in ``states``, without their bodies."""
    return await db.fetch_all(
        "SELECT c.id, f.key AS frontend, c.kind, c.method, c.url, c.state, c.attempts, "
        "c.next_attempt_at, c.last_error, c.created_at, c.finished_at FROM callbacks c "
        "JOIN frontends f ON f.id = c.frontend_id WHERE c.state = ANY(%s) "
        "ORDER BY c.id DESC LIMIT %s",
        (list(states), limit),
    )


async def pending_count(db: Database) -> int:
    return int(await db.fetch_value("SELECT count(*) FROM callbacks WHERE state = 'pending'"))


async def delete_finished_before(db: Database, seconds: float) -> int:
    return await db.execute(
        "DELETE FROM callbacks WHERE state <> 'pending' "
        "AND finished_at < now() - make_interval(secs => %s)",
        (seconds,),
    )

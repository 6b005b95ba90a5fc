"""The command queue: background work any instance may run, each command exactly once.

A worker claims a command with ``FOR UPDATE SKIP LOCKED`` in a short transaction that marks it
``running`` (no lock is held while it runs); an insert NOTIFYs ``b3scale_commands`` so workers
wake at once instead of polling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from b3scale.store.db import Database, Row, Session


@dataclass(frozen=True, slots=True)
class Command:
    id: UUID
    seq: int
    state: str
    action: str
    params: dict[str, Any]
    result: Any
    deadline: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Command:
        return cls(**row)


_RETURNING = (
    "RETURNING id, seq, state::text AS state, action, params, result, deadline, started_at, "
    "stopped_at, created_at"
)


async def enqueue(
    db: Database | Session, action: str, params: dict[str, Any], deadline_seconds: float
) -> Command:
    row = await db.fetch_one(
        "INSERT INTO commands (action, params, deadline) "
        "VALUES (%s, %s, now() + make_interval(secs => %s)) " + _RETURNING,
        (action, json.dumps(params), deadline_seconds),
    )
    assert row is not None
    return Command.from_row(row)


async def claim_next(db: Database) -> Command | None:
    """The oldest requested command, now ``running`` and owned by the caller."""
    row = await db.fetch_one(
        "UPDATE commands SET state = 'running', started_at = now() WHERE id = ("
        "  SELECT id FROM commands WHERE state = 'requested' ORDER BY seq "
        "  FOR UPDATE SKIP LOCKED LIMIT 1) " + _RETURNING
    )
    return Command.from_row(row) if row else None


async def finish(db: Database | Session, command_id: UUID, state: str, result: Any) -> None:
    await db.execute(
        "UPDATE commands SET state = %s, result = %s, stopped_at = now() WHERE id = %s",
        (state, json.dumps(result), command_id),
    )


async def select_command(db: Database | Session, command_id: UUID) -> Command | None:
    row = await db.fetch_one(
        "SELECT id, seq, state::text AS state, action, params, result, deadline, started_at, "
        "stopped_at, created_at FROM commands WHERE id = %s",
        (command_id,),
    )
    return Command.from_row(row) if row else None


async def delete_finished_before(db: Database | Session, seconds: float) -> int:
    """Forget commands that finished (or expired) more than ``seconds`` ago."""
    return await db.execute(
        "DELETE FROM commands WHERE (stopped_at IS NOT NULL AND stopped_at < now() - "
        "make_interval(secs => %(s)s)) OR deadline < now() - make_interval(secs => %(s)s)",
        {"s": seconds},
    )

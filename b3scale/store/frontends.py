"""The ``frontends`` table: tenants with their BBB key, secret and settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from b3scale.store.db import Database, Row, Session

#: The longest frontend key: it is a URL path segment and the payload of the change NOTIFY
#: (PostgreSQL's limit is 8,000 bytes).
KEY_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Frontend:
    id: UUID
    key: str
    secret: str
    active: bool
    account_ref: str | None
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Frontend:
        return cls(**row)

    @property
    def required_tags(self) -> list[str]:
        tags = self.settings.get("required_tags") or []
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @property
    def checksum_algorithms(self) -> list[str] | None:
        """The algorithms this frontend may sign with (setting), None = all BBB supports."""
        allowed = self.settings.get("checksum_algorithms")
        return [str(a).lower() for a in allowed] if isinstance(allowed, list) else None


async def select_frontend_by_key(db: Database | Session, key: str) -> Frontend | None:
    row = await db.fetch_one(
        "SELECT id, key, secret, active, account_ref, settings, created_at, updated_at "
        "FROM frontends WHERE key = %s",
        (key,),
    )
    return Frontend.from_row(row) if row else None


async def select_frontend(db: Database | Session, frontend_id: UUID) -> Frontend | None:
    row = await db.fetch_one(
        "SELECT id, key, secret, active, account_ref, settings, created_at, updated_at "
        "FROM frontends WHERE id = %s",
        (str(frontend_id),),
    )
    return Frontend.from_row(row) if row else None


async def insert_frontend(
    db: Database | Session,
    key: str,
    secret: str,
    settings: dict[str, Any] | None = None,
    *,
    active: bool = True,
    account_ref: str | None = None,
) -> Frontend:
    row = await db.fetch_one(
        "INSERT INTO frontends (key, secret, settings, active, account_ref) "
        "VALUES (%s, %s, %s, %s, %s) "
        "RETURNING id, key, secret, active, account_ref, settings, created_at, updated_at",
        (key, secret, json.dumps(settings or {}), active, account_ref),
    )
    assert row is not None
    return Frontend.from_row(row)


async def update_frontend(
    db: Database | Session,
    frontend_id: UUID,
    *,
    key: str,
    secret: str,
    settings: dict[str, Any],
    active: bool,
    account_ref: str | None,
) -> Frontend | None:
    row = await db.fetch_one(
        "UPDATE frontends SET key = %s, secret = %s, settings = %s, active = %s, "
        "account_ref = %s, updated_at = now() WHERE id = %s "
        "RETURNING id, key, secret, active, account_ref, settings, created_at, updated_at",
        (key, secret, json.dumps(settings), active, account_ref, str(frontend_id)),
    )
    return Frontend.from_row(row) if row else None


async def select_frontends(
    db: Database | Session,
    *,
    key: str | None = None,
    key_like: str | None = None,
    account_ref: str | None = None,
) -> list[Frontend]:
    """Frontends, optionally filtered by exact key, key substring and owner."""
    rows = await db.fetch_all(
        "SELECT id, key, secret, active, account_ref, settings, created_at, updated_at "
        "FROM frontends WHERE (%(key)s::text IS NULL OR key = %(key)s) "
        "AND (%(like)s::text IS NULL OR key LIKE '%%' || %(like)s || '%%') "
        "AND (%(account)s::text IS NULL OR account_ref = %(account)s) ORDER BY key",
        {"key": key, "like": key_like, "account": account_ref},
    )
    return [Frontend.from_row(r) for r in rows]


async def delete_frontend(db: Database | Session, frontend_id: UUID) -> bool:
    return await db.execute("DELETE FROM frontends WHERE id = %s", (str(frontend_id),)) > 0

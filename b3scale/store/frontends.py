"""The ``frontends`` table: tenants with their BBB key, secret and settings."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    #: Secrets still accepted besides ``secret`` (newest first): a rollover in progress.
    previous_secrets: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Row) -> Frontend:
        previous = row.pop("previous_secrets", None) or ()
        return cls(**row, previous_secrets=tuple(previous))

    @property
    def accepted_secrets(self) -> tuple[str, ...]:
        """Every secret a checksum may be made with, the current one first."""
        return (self.secret, *self.previous_secrets)

    def _positive_int(self, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
        return value

    @property
    def attendees_limit(self) -> int | None:
        """``attendees_limit: {"limit": N}``: no join while the meetings hold N attendees."""
        setting = self.settings.get("attendees_limit")
        return self._positive_int(setting.get("limit")) if isinstance(setting, dict) else None

    @property
    def attendees_limit_exempts_moderators(self) -> bool:
        setting = self.settings.get("attendees_limit")
        return isinstance(setting, dict) and setting.get("exempt_moderators") is True

    @property
    def meetings_limit(self) -> int | None:
        """``meetings_limit: {"limit": N}``: no new meeting while N are placed or running."""
        setting = self.settings.get("meetings_limit")
        return self._positive_int(setting.get("limit")) if isinstance(setting, dict) else None

    @property
    def max_participants(self) -> int | None:
        """``max_participants: N``: every create's maxParticipants is at most N."""
        return self._positive_int(self.settings.get("max_participants"))

    @property
    def unique_voice_bridge(self) -> bool | None:
        """``unique_voice_bridge``: True/False, or None to follow the cluster's default."""
        value = self.settings.get("unique_voice_bridge")
        return value if isinstance(value, bool) else None

    @property
    def required_tags(self) -> list[str]:
        tags = self.settings.get("required_tags") or []
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @property
    def checksum_algorithms(self) -> list[str] | None:
        """The algorithms this frontend may sign with (setting), None = all BBB supports."""
        allowed = self.settings.get("checksum_algorithms")
        return [str(a).lower() for a in allowed] if isinstance(allowed, list) else None


_COLUMNS = (
    "id, key, secret, active, account_ref, settings, created_at, updated_at, previous_secrets "
)
_SELECT = "SELECT " + _COLUMNS


async def select_frontend_by_key(db: Database | Session, key: str) -> Frontend | None:
    row = await db.fetch_one(
        _SELECT + "FROM frontends WHERE key = %s",
        (key,),
    )
    return Frontend.from_row(row) if row else None


async def select_frontend(db: Database | Session, frontend_id: UUID) -> Frontend | None:
    row = await db.fetch_one(
        _SELECT + "FROM frontends WHERE id = %s",
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
    previous_secrets: Sequence[str] = (),
) -> Frontend:
    row = await db.fetch_one(
        "INSERT INTO frontends (key, secret, settings, active, account_ref, previous_secrets) "
        "VALUES (%s, %s, %s, %s, %s, %s) "
        "RETURNING " + _COLUMNS,
        (key, secret, json.dumps(settings or {}), active, account_ref, list(previous_secrets)),
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
    previous_secrets: Sequence[str],
) -> Frontend | None:
    row = await db.fetch_one(
        "UPDATE frontends SET key = %s, secret = %s, settings = %s, active = %s, "
        "account_ref = %s, previous_secrets = %s, updated_at = now() WHERE id = %s "
        "RETURNING " + _COLUMNS,
        (
            key,
            secret,
            json.dumps(settings),
            active,
            account_ref,
            list(previous_secrets),
            str(frontend_id),
        ),
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
        _SELECT + "FROM frontends WHERE (%(key)s::text IS NULL OR key = %(key)s) "
        "AND (%(like)s::text IS NULL OR key LIKE '%%' || %(like)s || '%%') "
        "AND (%(account)s::text IS NULL OR account_ref = %(account)s) ORDER BY key",
        {"key": key, "like": key_like, "account": account_ref},
    )
    return [Frontend.from_row(r) for r in rows]


async def delete_frontend(db: Database | Session, frontend_id: UUID) -> bool:
    return await db.execute("DELETE FROM frontends WHERE id = %s", (str(frontend_id),)) > 0

"""Schema migrations: numbered SQL files shipped in ``b3scale/store/migrations``.

Each file ``NNNN_name.sql`` runs in its own transaction and is recorded in ``schema_migrations``.
The whole run holds a PostgreSQL advisory lock, so instances that start together against one
empty database wait for each other and the migrations run once. A database whose schema is newer
than this code is refused: an old release must not write to a schema it does not know.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from b3scale.store.db import Database

log = logging.getLogger(__name__)

#: Arbitrary but fixed: "b3sc" as a 64-bit number; every b3scale process uses the same lock.
MIGRATION_LOCK_KEY = 0x62337363

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version     integer PRIMARY KEY,
        name        text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
    )
"""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer b3scale than this one."""

    @classmethod
    def between(cls, current: int, latest_known: int) -> SchemaTooNew:
        return cls(
            f"the database schema is at version {current}, newer than this b3scale knows "
            f"(up to {latest_known}); run a b3scale release that knows it"
        )


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    version: int
    name: str
    applied_at: datetime


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]
    latest_known: int

    @property
    def current(self) -> int:
        return max((m.version for m in self.applied), default=0)

    @property
    def too_new(self) -> bool:
        return self.current > self.latest_known

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.too_new


def load_migrations() -> tuple[Migration, ...]:
    """The migration files in version order."""
    found: list[Migration] = []
    for entry in resources.files("b3scale.store.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return tuple(found)


async def schema_status(db: Database) -> SchemaStatus:
    """What is applied and what is pending, without changing anything."""
    migrations = load_migrations()
    exists = await db.fetch_value("SELECT to_regclass('schema_migrations') IS NOT NULL")
    rows = (
        await db.fetch_all(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        )
        if exists
        else []
    )
    applied = tuple(AppliedMigration(r["version"], r["name"], r["applied_at"]) for r in rows)
    done = {m.version for m in applied}
    return SchemaStatus(
        applied=applied,
        pending=tuple(m for m in migrations if m.version not in done),
        latest_known=max((m.version for m in migrations), default=0),
    )


async def migrate(db: Database) -> list[Migration]:
    """Apply the pending migrations; returns those this call applied (none if another did)."""
    migrations = load_migrations()
    latest_known = max((m.version for m in migrations), default=0)
    applied_now: list[Migration] = []
    async with db.session() as s:
        # A session-level lock on this one connection; held across the per-file transactions.
        await s.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            await s.execute(_CREATE_VERSION_TABLE)
            rows = await s.fetch_all("SELECT version FROM schema_migrations")
            done = {r["version"] for r in rows}
            if done and max(done) > latest_known:
                raise SchemaTooNew.between(max(done), latest_known)
            for migration in migrations:
                if migration.version in done:
                    continue
                log.info(
                    "applying migration",
                    extra={"version": migration.version, "migration": migration.name},
                )
                await s.execute("BEGIN")
                try:
                    await s.execute(migration.sql)
                    await s.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                except BaseException:
                    await s.execute("ROLLBACK")
                    raise
                await s.execute("COMMIT")
                applied_now.append(migration)
        finally:
            await s.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


async def check_schema(db: Database) -> SchemaStatus:
    """Raise :class:`SchemaTooNew` if this code must not run against the database."""
    status = await schema_status(db)
    if status.too_new:
        raise SchemaTooNew.between(status.current, status.latest_known)
    return status

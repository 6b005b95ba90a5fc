"""The only module that touches aiopg and psycopg2.

A :class:`Database` owns the connection pool. Queries are literal SQL with ``%(name)s`` bind
parameters (``LiteralString`` keeps f-string SQL out); rows come back as dicts. A connection is
taken from the pool for one query, or for one :meth:`Database.transaction`, and returned at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import aiopg
import psycopg2
import psycopg2.extensions
import psycopg2.extras

log = logging.getLogger(__name__)

# uuid columns come back as uuid.UUID (psycopg2 returns str otherwise).
psycopg2.extras.register_uuid()  # type: ignore[no-untyped-call]

Params = Mapping[str, Any] | tuple[Any, ...] | None
Row = dict[str, Any]

#: Raised for every database failure; callers need not import psycopg2.
DatabaseError = psycopg2.Error
UniqueViolation = psycopg2.errors.UniqueViolation


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached at start."""


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for logs and error messages."""
    try:
        parts = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return "<unparsable DSN>"
    parts.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in sorted(parts.items()))


def with_application_name(dsn: str, name: str) -> str:
    parts = psycopg2.extensions.parse_dsn(dsn)
    parts.setdefault("application_name", name)
    return str(psycopg2.extensions.make_dsn(**parts))


class Session:
    """Query methods over one cursor: a pooled connection or an open transaction."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    async def fetch_all(self, query: LiteralString, params: Params = None) -> list[Row]:
        await self._cursor.execute(query, params)
        return [dict(row) for row in await self._cursor.fetchall()]

    async def fetch_one(self, query: LiteralString, params: Params = None) -> Row | None:
        await self._cursor.execute(query, params)
        row = await self._cursor.fetchone()
        return dict(row) if row is not None else None

    async def fetch_value(self, query: LiteralString, params: Params = None) -> Any:
        row = await self.fetch_one(query, params)
        return next(iter(row.values())) if row else None

    async def execute(self, query: LiteralString, params: Params = None) -> int:
        """Run a statement; returns the number of rows it touched."""
        await self._cursor.execute(query, params)
        return int(self._cursor.rowcount)


class Notifications:
    """The NOTIFY payloads arriving on one listening connection."""

    def __init__(self, queue: Any) -> None:  # aiopg.utils.ClosableQueue
        self._queue = queue

    async def get(self, timeout: float | None = None) -> str:
        """The next payload; raises TimeoutError when none arrives within ``timeout``."""
        async with asyncio.timeout(timeout):
            notify = await self._queue.get()
        return str(notify.payload)


class Database:
    """A pool of connections to one PostgreSQL database."""

    def __init__(self, pool: aiopg.Pool, dsn: str) -> None:
        self._pool = pool
        self.dsn = dsn

    @classmethod
    async def connect(
        cls, dsn: str, pool_size: int = 10, *, timeout: float = 10.0, name: str = "b3scale"
    ) -> Database:
        """Open the pool; raises :class:`DatabaseUnavailable` with a password-free message."""
        try:
            full_dsn = with_application_name(dsn, name)
        except psycopg2.ProgrammingError as exc:
            raise DatabaseUnavailable(f"invalid database URL: {exc}".strip()) from None
        try:
            pool = await aiopg.create_pool(
                full_dsn,
                minsize=1,
                maxsize=pool_size,
                timeout=timeout,
                cursor_factory=psycopg2.extras.RealDictCursor,
            )
        except (TimeoutError, psycopg2.Error, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(
                f"cannot connect to the database ({redact_dsn(dsn)}): {reason}"
            ) from None
        return cls(pool, dsn)

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()

    @property
    def size(self) -> int:
        return int(self._pool.size)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """One pooled connection in autocommit mode, for several statements in a row."""
        async with self._pool.acquire() as conn, conn.cursor() as cursor:
            yield Session(cursor)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        async with self._pool.acquire() as conn, conn.cursor() as cursor, cursor.begin():
            yield Session(cursor)

    @asynccontextmanager
    async def listen(self, channel: LiteralString) -> AsyncIterator[Notifications]:
        """LISTEN on ``channel`` with a connection held for the block; yields the payloads."""
        async with self._pool.acquire() as conn:
            async with conn.cursor() as cursor:
                await cursor.execute("LISTEN " + channel)
            try:
                yield Notifications(conn.notifies)
            finally:
                if not conn.closed:
                    async with conn.cursor() as cursor:
                        await cursor.execute("UNLISTEN " + channel)

    async def fetch_all(self, query: LiteralString, params: Params = None) -> list[Row]:
        async with self.session() as s:
            return await s.fetch_all(query, params)

    async def fetch_one(self, query: LiteralString, params: Params = None) -> Row | None:
        async with self.session() as s:
            return await s.fetch_one(query, params)

    async def fetch_value(self, query: LiteralString, params: Params = None) -> Any:
        async with self.session() as s:
            return await s.fetch_value(query, params)

    async def execute(self, query: LiteralString, params: Params = None) -> int:
        async with self.session() as s:
            return await s.execute(query, params)

    async def ping(self, timeout: float = 2.0) -> bool:
        """True when the database answers a trivial query within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return bool(await self.fetch_value("SELECT 1") == 1)
        except (psycopg2.Error, OSError, TimeoutError):
            return False


async def create_database_if_missing(admin_dsn: str, name: LiteralString) -> None:
    """CREATE DATABASE ``name`` unless it exists (used for the embedded cluster and tests)."""
    db = await Database.connect(admin_dsn, 1)
    try:
        exists = await db.fetch_value("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if not exists:
            # another process may create it meanwhile
            with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                await db.execute("CREATE DATABASE " + name)
    finally:
        await db.close()

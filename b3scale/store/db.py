"""The only module that touches aiopg and psycopg2.

A :class:`Database` owns the connection pool. Queries are literal SQL with ``%(name)s`` bind
parameters (``LiteralString`` keeps f-string SQL out); rows come back as dicts. A connection is
taken from the pool for one query, or for one :meth:`Database.transaction`, and returned at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import functools
import logging
import select
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, LiteralString, TypeVar

import aiopg
import aiopg.connection
import psycopg2
import psycopg2.extensions
import psycopg2.extras

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class _PollSelect:
    """What aiopg's connection module gets as ``select``.

    When a query fails, aiopg checks the connection's descriptor with ``select.select()``,
    which raises ValueError ("filedescriptor out of range") for descriptors of 1,024 and up:
    a server with a thousand client sockets open has such descriptors, the check raises inside
    an event-loop callback, and the waiting query never ends. ``poll()`` has no such limit; a
    descriptor that is no longer open is reported as EBADF, which is what aiopg looks for.
    """

    @staticmethod
    def select(
        rlist: list[int], wlist: list[int], xlist: list[int], timeout: float | None = None
    ) -> tuple[list[int], list[int], list[int]]:
        poller = select.poll()
        for fd in {*rlist, *wlist}:
            poller.register(
                fd, (select.POLLIN if fd in rlist else 0) | (select.POLLOUT if fd in wlist else 0)
            )
        ready = poller.poll(None if timeout is None else int(timeout * 1000))
        if any(event & select.POLLNVAL for _, event in ready):
            raise OSError(errno.EBADF, "Bad file descriptor")
        readable = [fd for fd, event in ready if fd in rlist and event & ~select.POLLOUT]
        writable = [fd for fd, event in ready if fd in wlist and event & select.POLLOUT]
        return readable, writable, []


aiopg.connection.select = _PollSelect  # type: ignore[attr-defined,assignment]

# uuid columns come back as uuid.UUID (psycopg2 returns str otherwise).
psycopg2.extras.register_uuid()  # type: ignore[no-untyped-call]

Params = Mapping[str, Any] | tuple[Any, ...] | None
Row = dict[str, Any]

#: Raised for every database failure; callers need not import psycopg2.
DatabaseError = psycopg2.Error
UniqueViolation = psycopg2.errors.UniqueViolation


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached at start."""


class PoolExhausted(psycopg2.OperationalError):
    """No connection became free in time, or too many requests wait already: try again.

    A DatabaseError, so every caller that answers "try again later" for a database outage
    answers it for an overload too, and nothing half-done is left behind (no query ran).
    """


#: How long closing the pool waits for queries still running (the app has stopped its jobs
#: and let its requests finish by then).
CLOSE_GRACE = 5.0
#: Results of more rows are let go of when the connection is given back.
BIG_RESULT_ROWS = 200
#: How long a request waits for a free connection before it is told to try again.
ACQUIRE_TIMEOUT = 10.0
#: How many requests may wait for a connection at once, per pool size: beyond this the
#: wait could not end within ACQUIRE_TIMEOUT anyway, so they are refused at once.
WAITERS_PER_CONNECTION = 1000


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

    def _names(self) -> list[str]:
        return [column[0] for column in self._cursor.description]

    async def fetch_all(self, query: LiteralString, params: Params = None) -> list[Row]:
        await self._cursor.execute(query, params)
        rows = await self._cursor.fetchall()
        names = self._names()
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def fetch_one(self, query: LiteralString, params: Params = None) -> Row | None:
        await self._cursor.execute(query, params)
        row = await self._cursor.fetchone()
        # Plain tuples zipped with the column names: cheaper than psycopg2's dict cursors.
        return dict(zip(self._names(), row, strict=True)) if row is not None else None

    async def fetch_column(self, query: LiteralString, params: Params = None) -> list[Any]:
        """The first column of every row (no dict per row: for long lists of one value)."""
        await self._cursor.execute(query, params)
        return [row[0] for row in await self._cursor.fetchall()]

    async def fetch_value(self, query: LiteralString, params: Params = None) -> Any:
        row = await self.fetch_one(query, params)
        return next(iter(row.values())) if row else None

    async def execute(self, query: LiteralString, params: Params = None) -> int:
        """Run a statement; returns the number of rows it touched."""
        await self._cursor.execute(query, params)
        return int(self._cursor.rowcount)


_CLOSED = object()


class Notifications:
    """The NOTIFY payloads of one channel, for one listener."""

    def __init__(self, queue: asyncio.Queue[object]) -> None:
        self._queue = queue

    async def get(self, timeout: float | None = None, stop: asyncio.Event | None = None) -> str:
        """The next payload; TimeoutError after ``timeout`` or as soon as ``stop`` is set;
        DatabaseError when the listening connection is lost (listen again)."""
        getter = asyncio.ensure_future(self._queue.get())
        waiters: set[asyncio.Future[Any]] = {getter}
        if stop is not None:
            waiters.add(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()  # a queue get or an event wait: nothing is lost
        if not getter.done() or getter.cancelled():
            raise TimeoutError
        item = getter.result()
        if item is _CLOSED:
            raise psycopg2.OperationalError("the LISTEN connection was lost")
        return str(item)


class _ListenHub:
    """One connection, outside the pool, that LISTENs for every channel of a Database."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._queues: dict[str, set[asyncio.Queue[object]]] = {}
        self._lock = asyncio.Lock()
        self.closed = False
        self._pump_task = asyncio.create_task(self._pump())

    async def subscribe(self, channel: LiteralString) -> asyncio.Queue[object]:
        async with self._lock:
            if channel not in self._queues:
                async with self._conn.cursor() as cursor:
                    await cursor.execute("LISTEN " + channel)
                self._queues[channel] = set()
            queue: asyncio.Queue[object] = asyncio.Queue()
            self._queues[channel].add(queue)
            return queue

    def unsubscribe(self, channel: str, queue: asyncio.Queue[object]) -> None:
        self._queues.get(channel, set()).discard(queue)

    async def _pump(self) -> None:
        try:
            while True:
                notify = await self._conn.notifies.get()
                for queue in self._queues.get(notify.channel, ()):
                    queue.put_nowait(notify.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection died, in whatever way aiopg reports it
            log.warning("LISTEN connection lost", extra={"error": str(exc) or type(exc).__name__})
        finally:
            self.closed = True
            for queues in self._queues.values():
                for queue in queues:
                    queue.put_nowait(_CLOSED)

    async def close(self) -> None:
        self._pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump_task
        self._conn.close()


@dataclass(eq=False, slots=True)
class _Pooled:
    """One pooled connection and the cursor it keeps (a new one only after a big result)."""

    conn: aiopg.Connection
    cursor: aiopg.Cursor
    #: The cursor holds a big result (until its next query): a new one is made at next take.
    renew: bool = False


class _Connections:
    """The pool: every connection opened at start, each with one cursor it keeps.

    Not aiopg's pool: its acquire and release cost ~60 µs of CPU here (a timeout, a
    condition, a scan of every free connection, a task per release) and a new cursor per query
    ~10 µs more, half of what a one-row query costs in all. The Database's semaphore admits
    only as many users as there are connections, so a free one is always here; one that died
    is replaced when it is next taken. Transactions are BEGIN/COMMIT on the kept cursor (not
    aiopg's Transaction object, whose state outlives a failed BEGIN or COMMIT)."""

    def __init__(self, dsn: str, timeout: float) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._free: collections.deque[_Pooled] = collections.deque()
        self._used: set[_Pooled] = set()
        self._closing = False
        self._all_back = asyncio.Event()
        #: Connections kept at most (a connect finishing for a cancelled caller must not
        #: grow the pool past what the server's max_connections was planned for).
        self._limit = 0

    @property
    def size(self) -> int:
        return len(self._free) + len(self._used)

    @property
    def idle(self) -> int:
        return len(self._free)

    async def fill(self, size: int) -> None:
        self._limit = size
        for _ in range(size):
            self._free.append(await self._open())

    async def take(self) -> _Pooled:
        """A free connection (FIFO, so each stays warm), or a new one for one that died."""
        while self._free:
            pooled = self._free.popleft()
            if not pooled.conn.closed:
                self._used.add(pooled)
                if pooled.renew:
                    try:
                        pooled.cursor = await pooled.conn.cursor()
                    except BaseException:
                        self._used.discard(pooled)
                        pooled.conn.close()
                        raise
                    pooled.renew = False
                return pooled
        if self._closing:
            raise psycopg2.OperationalError("the database was closed")
        # Shielded: cancelling aiopg half-way through a connect can leave it waiting for ever.
        opening = asyncio.ensure_future(self._open())
        try:
            pooled = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(self._keep_unwanted)
            raise
        self._used.add(pooled)
        return pooled

    def give_back(self, pooled: _Pooled) -> None:
        self._used.discard(pooled)
        conn = pooled.conn
        idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
        if not conn.closed and conn.raw.get_transaction_status() != idle:
            conn.close()  # half-way through something (a failed ROLLBACK): not reusable
        if not conn.closed:
            if pooled.cursor.rowcount > BIG_RESULT_ROWS:
                # A cursor keeps its last result until its next query: a tenant's getMeetings
                # can be megabytes, not to be held by an idle connection.
                pooled.cursor.close()
                pooled.renew = True
            self._keep(pooled)
        if self._closing and not self._used:
            self._all_back.set()

    async def close(self, grace: float) -> None:
        """Close every connection; those in use are waited for ``grace`` seconds."""
        self._closing = True
        if self._used:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._all_back.wait()
        for pooled in [*self._free, *self._used]:
            pooled.conn.close()
        self._free.clear()
        self._used.clear()

    async def _open(self) -> _Pooled:
        try:
            conn = await aiopg.connect(self._dsn, timeout=self._timeout)
        except (TimeoutError, OSError) as exc:
            reason = str(exc).strip() or type(exc).__name__
            raise psycopg2.OperationalError(f"connecting failed: {reason}") from None
        try:
            cursor = await conn.cursor()
        except BaseException:
            conn.close()
            raise
        return _Pooled(conn, cursor)

    def _keep_unwanted(self, opening: asyncio.Future[_Pooled]) -> None:
        """A connection opened for a caller that was cancelled meanwhile: free for the next."""
        if opening.cancelled() or opening.exception() is not None:
            return
        self._keep(opening.result())

    def _keep(self, pooled: _Pooled) -> None:
        """Free for the next caller, unless the pool is closing or full."""
        if self._closing or self.size >= self._limit:
            pooled.conn.close()
        else:
            self._free.append(pooled)


def _drop_subscription(
    channel: str, subscribing: asyncio.Future[tuple[_ListenHub, asyncio.Queue[object]]]
) -> None:
    """The end of a subscription whose listener was cancelled meanwhile."""
    if subscribing.cancelled() or subscribing.exception() is not None:
        return
    hub, queue = subscribing.result()
    hub.unsubscribe(channel, queue)


class Database:
    """A pool of connections to one PostgreSQL database."""

    def __init__(
        self,
        pool: _Connections,
        dsn: str,
        name: str = "b3scale",
        *,
        pool_size: int = 10,
        acquire_timeout: float = ACQUIRE_TIMEOUT,
    ) -> None:
        self._pool = pool
        #: Admits as many requests as there are connections; the others wait here (bounded,
        #: cancellable) rather than inside aiopg, whose waits cannot be safely cancelled.
        self._slots = asyncio.Semaphore(pool_size)
        self._max_waiters = pool_size * WAITERS_PER_CONNECTION
        self._waiters = 0
        self._acquire_timeout = acquire_timeout
        self.dsn = dsn
        self._name = name
        self._hub: _ListenHub | None = None
        self._hub_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def connect(
        cls,
        dsn: str,
        pool_size: int = 10,
        *,
        timeout: float = 10.0,
        name: str = "b3scale",
        acquire_timeout: float = ACQUIRE_TIMEOUT,
    ) -> Database:
        """Open the pool; raises :class:`DatabaseUnavailable` with a password-free message."""
        try:
            full_dsn = with_application_name(dsn, name)
        except psycopg2.ProgrammingError as exc:
            raise DatabaseUnavailable(f"invalid database URL: {exc}".strip()) from None
        # Every connection is opened at start: early, so its descriptor number is low (see
        # _PollSelect), and once, so a burst never opens connections.
        pool = _Connections(full_dsn, timeout)
        try:
            await pool.fill(pool_size)
        except (TimeoutError, psycopg2.Error, OSError) as exc:
            await pool.close(grace=0)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(
                f"cannot connect to the database ({redact_dsn(dsn)}): {reason}"
            ) from None
        return cls(pool, dsn, name, pool_size=pool_size, acquire_timeout=acquire_timeout)

    async def close(self) -> None:
        self._closed = True
        async with self._hub_lock:  # waits for a LISTEN connection being opened right now
            if self._hub is not None:
                await self._hub.close()
                self._hub = None
        await self._pool.close(grace=CLOSE_GRACE)

    @property
    def size(self) -> int:
        """Connections the pool has open."""
        return self._pool.size

    @property
    def idle(self) -> int:
        """Open connections no query holds right now."""
        return self._pool.idle

    @property
    def waiting(self) -> int:
        """Requests waiting for a connection right now."""
        return self._waiters

    async def _take(self) -> _Pooled:
        """A turn at a connection: at once when one is free, else a wait bounded in time and
        in number (PoolExhausted). Give it back with :meth:`_give_back`."""
        if self._slots.locked():
            await self._wait_for_slot()
        else:
            await self._slots.acquire()  # free: returns at once (no timer for the common case)
        try:
            return await self._pool.take()
        except BaseException:
            self._slots.release()
            raise

    async def _wait_for_slot(self) -> None:
        if self._waiters >= self._max_waiters:
            raise PoolExhausted("too many requests wait for a database connection")
        self._waiters += 1
        try:
            async with asyncio.timeout(self._acquire_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhausted(
                f"no database connection became free within {self._acquire_timeout:g} s"
            ) from None
        finally:
            self._waiters -= 1

    def _give_back(self, pooled: _Pooled) -> None:
        self._pool.give_back(pooled)
        self._slots.release()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """One pooled connection in autocommit mode, for several statements in a row."""
        pooled = await self._take()
        try:
            yield Session(pooled.cursor)
        finally:
            self._give_back(pooled)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        pooled = await self._take()
        try:
            cursor = pooled.cursor
            await cursor.execute("BEGIN")
            try:
                yield Session(cursor)
            except BaseException:
                if not pooled.conn.closed:
                    # A failed ROLLBACK leaves the transaction open: give_back closes it.
                    with contextlib.suppress(psycopg2.Error):
                        await cursor.execute("ROLLBACK")
                raise
            await cursor.execute("COMMIT")
        finally:
            self._give_back(pooled)

    @asynccontextmanager
    async def listen(self, channel: LiteralString) -> AsyncIterator[Notifications]:
        """LISTEN on ``channel`` for the block. All channels share one connection that is not
        taken from the pool, so listeners never starve queries."""
        # Shielded: cancelling aiopg half-way through connect/LISTEN can leave the connection
        # waiting for ever (seen when an app stops right after it started).
        subscribing = asyncio.ensure_future(self._subscribe(channel))
        try:
            hub, queue = await asyncio.shield(subscribing)
        except asyncio.CancelledError:
            # The subscription goes on without us: drop what it yields. Its error must be
            # retrieved here, or asyncio prints it as a traceback when the task is collected.
            subscribing.add_done_callback(functools.partial(_drop_subscription, channel))
            raise
        try:
            yield Notifications(queue)
        finally:
            hub.unsubscribe(channel, queue)

    async def _subscribe(self, channel: LiteralString) -> tuple[_ListenHub, asyncio.Queue[object]]:
        hub = await self._listen_hub()
        return hub, await hub.subscribe(channel)

    async def _listen_hub(self) -> _ListenHub:
        async with self._hub_lock:
            if self._closed:
                raise psycopg2.OperationalError("the database was closed")
            if self._hub is None or self._hub.closed:
                if self._hub is not None:
                    await self._hub.close()
                conn = await aiopg.connect(
                    with_application_name(self.dsn, f"{self._name}-listen"), timeout=10
                )
                self._hub = _ListenHub(conn)
            return self._hub

    async def _on_a_connection(self, query: Callable[[Session], Awaitable[_T]]) -> _T:
        """One statement on a pooled connection (no context manager: the common case)."""
        pooled = await self._take()
        try:
            return await query(Session(pooled.cursor))
        finally:
            self._give_back(pooled)

    async def fetch_all(self, query: LiteralString, params: Params = None) -> list[Row]:
        return await self._on_a_connection(lambda session: session.fetch_all(query, params))

    async def fetch_one(self, query: LiteralString, params: Params = None) -> Row | None:
        return await self._on_a_connection(lambda session: session.fetch_one(query, params))

    async def fetch_column(self, query: LiteralString, params: Params = None) -> list[Any]:
        return await self._on_a_connection(lambda session: session.fetch_column(query, params))

    async def fetch_value(self, query: LiteralString, params: Params = None) -> Any:
        return await self._on_a_connection(lambda session: session.fetch_value(query, params))

    async def execute(self, query: LiteralString, params: Params = None) -> int:
        return await self._on_a_connection(lambda session: session.execute(query, params))

    async def connection_budget(self) -> tuple[int, int]:
        """The server's ``max_connections`` and the connections it keeps for superusers."""
        row = await self.fetch_one(
            "SELECT current_setting('max_connections')::int AS max, "
            "current_setting('superuser_reserved_connections')::int AS reserved"
        )
        assert row is not None
        return int(row["max"]), int(row["reserved"])

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

import asyncio
import contextlib
import gc
import resource
import socket
import time

import pytest

from b3scale.store.db import (
    Database,
    DatabaseError,
    DatabaseUnavailable,
    PoolExhausted,
    UniqueViolation,
    redact_dsn,
)


async def test_transaction_commits_on_success(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO frontends (key, secret) VALUES ('a', 's')")
        await tx.execute("INSERT INTO frontends (key, secret) VALUES ('b', 's')")
    assert await db.fetch_value("SELECT count(*) FROM frontends") == 2


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(UniqueViolation):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO frontends (key, secret) VALUES ('a', 's')")
            await tx.execute("INSERT INTO frontends (key, secret) VALUES ('a', 's')")
    assert await db.fetch_value("SELECT count(*) FROM frontends") == 0


async def test_rows_are_dicts_and_rowcount_is_returned(db: Database) -> None:
    await db.execute("INSERT INTO frontends (key, secret) VALUES ('k1', 's'), ('k2', 's')")
    rows = await db.fetch_all("SELECT key FROM frontends ORDER BY key")
    assert rows == [{"key": "k1"}, {"key": "k2"}]
    assert await db.fetch_one("SELECT key FROM frontends WHERE key = %s", ("nope",)) is None
    assert await db.execute("UPDATE frontends SET active = false") == 2


async def test_pool_returns_connections_after_each_query(db: Database) -> None:
    for _ in range(20):
        await db.fetch_value("SELECT 1")
    assert (db.size, db.idle) == (4, 4)  # all opened at start, reused, never held
    # More queries at once than the pool has connections: all finish, all are returned.
    values = await asyncio.gather(
        *(db.fetch_value("SELECT 1 FROM pg_sleep(0.01)") for _ in range(12))
    )
    assert values == [1] * 12
    assert db.size == 4 and db.idle == 4


async def test_unreachable_database_gives_a_message_without_the_password() -> None:
    dsn = "host=127.0.0.1 port=1 user=u password=hunter2 dbname=x connect_timeout=2"
    with pytest.raises(DatabaseUnavailable) as caught:
        await Database.connect(dsn, 1, timeout=3)
    assert "hunter2" not in str(caught.value)
    assert "cannot connect to the database" in str(caught.value)


def test_redact_dsn_handles_urls() -> None:
    redacted = redact_dsn("postgres://jack:secret@pg.example.com:5432/mydb?sslmode=verify-ca")
    assert "secret" not in redacted and "pg.example.com" in redacted


async def test_requests_wait_for_a_connection_a_bounded_time(migrated_db_url: str) -> None:
    db = await Database.connect(migrated_db_url, 1, acquire_timeout=0.3)
    try:
        holder = asyncio.create_task(db.fetch_value("SELECT 1 FROM pg_sleep(1)"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(PoolExhausted, match="no database connection became free"):
            await db.fetch_value("SELECT 1")
        # Refused at its own timeout, not at the holder's end (1 s; it would have succeeded).
        assert 0.25 < time.monotonic() - started < 2
        assert await holder == 1
        assert await db.fetch_value("SELECT 2") == 2  # nothing was left taken
        assert (db.size, db.idle, db.waiting) == (1, 1, 0)
    finally:
        await db.close()


async def test_too_many_waiters_are_refused_at_once(migrated_db_url: str) -> None:
    db = await Database.connect(migrated_db_url, 1, acquire_timeout=5)
    try:
        holder = asyncio.create_task(db.fetch_value("SELECT 1 FROM pg_sleep(0.5)"))
        await asyncio.sleep(0.1)
        waiters = [asyncio.create_task(db.fetch_value("SELECT 1")) for _ in range(1000)]
        await asyncio.sleep(0.05)
        assert db.waiting == 1000
        started = time.monotonic()
        with pytest.raises(PoolExhausted, match="too many requests wait"):
            await db.fetch_value("SELECT 1")
        assert time.monotonic() - started < 0.5  # at once, not after the 5-s acquire timeout
        assert await asyncio.gather(holder, *waiters) == [1] * 1001  # the queue drains
    finally:
        await db.close()


async def test_a_failing_query_on_a_high_descriptor_ends(migrated_db_url: str) -> None:
    """aiopg checks a failed connection with select(), which cannot take descriptors of 1,024
    and up: the query would hang. With 1,100 sockets open, it must fail at once instead."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:  # a serve for a thousand clients runs with a raised limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    ballast = [socket.socket() for _ in range(1100)]
    try:
        db = await Database.connect(migrated_db_url, 1)
        try:
            pid = await db.fetch_value("SELECT pg_backend_pid()")  # the pool's one connection
            running = asyncio.create_task(db.fetch_value("SELECT 1 FROM pg_sleep(10)"))
            await asyncio.sleep(0.3)
            killer = await Database.connect(migrated_db_url, 1)
            try:
                await killer.fetch_value("SELECT pg_terminate_backend(%s)", (pid,))
            finally:
                await killer.close()
            async with asyncio.timeout(5):  # not the 10 s of the query, nor for ever
                with pytest.raises(DatabaseError):
                    await running
        finally:
            await db.close()
    finally:
        for sock in ballast:
            sock.close()


async def test_a_listen_cancelled_while_subscribing_leaves_no_unretrieved_error(
    migrated_db_url: str,
) -> None:
    """An app stopping cancels a listener whose subscription is still connecting; when that
    subscription then fails, asyncio must not print its traceback as an exception that was
    never retrieved (seen in serve's log at SIGTERM right after a worker started)."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    # A server that accepts the connection and never answers: the subscription hangs in
    # its connect until the server goes away.
    silent = socket.create_server(("127.0.0.1", 0))
    db = await Database.connect(migrated_db_url, 1)
    try:
        db.dsn = f"postgresql://b3scale@127.0.0.1:{silent.getsockname()[1]}/b3scale"

        async def listener() -> None:
            async with db.listen("b3scale_commands"):
                await asyncio.sleep(60)

        listening = asyncio.create_task(listener())
        await asyncio.sleep(0.2)
        listening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listening
        del listening
        peer, _ = silent.accept()
        peer.close()
        silent.close()  # the hanging connect fails now
        for _ in range(10):
            await asyncio.sleep(0.05)
            gc.collect()  # an unretrieved exception is reported when its task is collected
        await db.close()
        gc.collect()
    finally:
        silent.close()
        loop.set_exception_handler(previous)
    assert [c["message"] for c in reported] == []


async def test_a_connection_the_server_ended_is_replaced(migrated_db_url: str) -> None:
    db = await Database.connect(migrated_db_url, 2)
    killer = await Database.connect(migrated_db_url, 1)
    try:
        pids = set(
            await asyncio.gather(
                *(db.fetch_value("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(2))
            )
        )
        assert len(pids) == 2
        for pid in pids:
            await killer.fetch_value("SELECT pg_terminate_backend(%s)", (pid,))
        failures = 0
        for _ in range(4):  # each dead connection fails one query, then is replaced
            try:
                assert await db.fetch_value("SELECT 1") == 1
            except DatabaseError:
                failures += 1
        assert failures <= 2
        new_pids = set(
            await asyncio.gather(
                *(db.fetch_value("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(2))
            )
        )
        assert len(new_pids) == 2 and not new_pids & pids
        assert (db.size, db.idle) == (2, 2)
    finally:
        await killer.close()
        await db.close()


async def test_a_failed_commit_leaves_the_connection_usable(migrated_db_url: str) -> None:
    db = await Database.connect(migrated_db_url, 1)  # every statement on the same connection
    try:
        await db.execute("CREATE TEMP TABLE deferred (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(UniqueViolation):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO deferred VALUES (1), (1)")  # checked at COMMIT
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO deferred VALUES (2)")
        assert await db.fetch_column("SELECT id FROM deferred") == [2]
        # A transaction cancelled in the middle of a query: its connection is not reused
        # half-way through it, the next caller gets a working one.
        running = asyncio.create_task(db.execute("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        async with db.transaction() as tx:
            assert await tx.fetch_value("SELECT count(*) FROM pg_stat_activity") >= 1
        assert (db.size, db.idle) == (1, 1)
    finally:
        await db.close()


async def test_a_connection_lets_go_of_a_big_result_and_keeps_working(migrated_db_url: str) -> None:
    """A kept cursor would hold its last result until its next query: after a big one, the
    connection gets a fresh cursor (and must go on answering, in sessions and transactions)."""
    db = await Database.connect(migrated_db_url, 1)
    try:
        pid = await db.fetch_value("SELECT pg_backend_pid()")
        big = await db.fetch_column("SELECT repeat('x', 10000) FROM generate_series(1, 500)")
        assert len(big) == 500
        assert await db.fetch_value("SELECT pg_backend_pid()") == pid  # the same connection
        async with db.transaction() as tx:
            assert len(await tx.fetch_all("SELECT g FROM generate_series(1, 300) g")) == 300
        async with db.session() as session:
            assert await session.fetch_value("SELECT 2") == 2
            assert await session.fetch_value("SELECT pg_backend_pid()") == pid
    finally:
        await db.close()


async def test_connects_of_cancelled_callers_never_grow_the_pool(migrated_db_url: str) -> None:
    """The pool's size is what the server's max_connections was planned for: a connection
    opened for a caller that was cancelled meanwhile is kept only in the place of another."""
    db = await Database.connect(migrated_db_url, 1)
    killer = await Database.connect(migrated_db_url, 1)
    try:
        pid = await db.fetch_value("SELECT pg_backend_pid()")
        await killer.fetch_value("SELECT pg_terminate_backend(%s)", (pid,))
        await asyncio.sleep(0.3)  # the pool sees its connection gone: the next take connects
        for _ in range(5):
            cancelled = asyncio.create_task(db.fetch_value("SELECT 1"))
            await asyncio.sleep(0)  # it is connecting now
            cancelled.cancel()
            with contextlib.suppress(asyncio.CancelledError, DatabaseError):
                await cancelled
            # the next caller connects too (nothing is free yet), then the first connect ends
            assert await db.fetch_value("SELECT 1") == 1
            await asyncio.sleep(0.3)
            assert (db.size, db.idle) == (1, 1)
            pid = await db.fetch_value("SELECT pg_backend_pid()")
            await killer.fetch_value("SELECT pg_terminate_backend(%s)", (pid,))
            await asyncio.sleep(0.3)
    finally:
        await killer.close()
        await db.close()

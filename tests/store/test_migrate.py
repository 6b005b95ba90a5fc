import asyncio

import pytest

from b3scale.store.db import Database
from b3scale.store.migrate import (
    SchemaTooNew,
    check_schema,
    load_migrations,
    migrate,
    schema_status,
)


def test_migration_files_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_migrate_empty_database_then_nothing_pending(empty_db_url: str) -> None:
    db = await Database.connect(empty_db_url, 2)
    try:
        before = await schema_status(db)
        assert before.current == 0 and len(before.pending) == len(load_migrations())
        applied = await migrate(db)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        after = await schema_status(db)
        assert after.up_to_date and after.current == after.latest_known
        assert await migrate(db) == []
        tables = await db.fetch_all(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        names = {t["tablename"] for t in tables}
        assert {"frontends", "backends", "meetings", "attendees", "commands"} <= names
    finally:
        await db.close()


async def test_concurrent_migrations_apply_each_file_once(empty_db_url: str) -> None:
    pools = [await Database.connect(empty_db_url, 1) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(p) for p in pools))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in load_migrations()]
        count = await pools[0].fetch_value("SELECT count(*) FROM schema_migrations")
        assert count == len(load_migrations())
    finally:
        for p in pools:
            await p.close()


async def test_newer_schema_is_refused(empty_db_url: str) -> None:
    db = await Database.connect(empty_db_url, 1)
    try:
        await migrate(db)
        await db.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
        with pytest.raises(SchemaTooNew, match="version 9999"):
            await migrate(db)
        with pytest.raises(SchemaTooNew):
            await check_schema(db)
    finally:
        await db.close()


async def test_timestamps_have_time_zones(db: Database) -> None:
    rows = await db.fetch_all(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'"
    )
    assert rows == []


async def test_queued_command_notifies_listeners(db: Database) -> None:
    async with db.listen("b3scale_commands") as notifications:
        command_id = await db.fetch_value(
            "INSERT INTO commands (action, deadline) VALUES ('end_all_meetings', now()) "
            "RETURNING id::text"
        )
        assert await notifications.get(timeout=5) == command_id

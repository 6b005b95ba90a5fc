"""Small helpers for tests that create and drop databases."""

from __future__ import annotations

import psycopg2.extensions

from b3scale.store.db import Database


def dsn_for(admin_dsn: str, dbname: str) -> str:
    """The same server and user, another database."""
    parts = psycopg2.extensions.parse_dsn(admin_dsn)
    parts["dbname"] = dbname
    return str(psycopg2.extensions.make_dsn(**parts))


def dbname_of(dsn: str) -> str:
    return str(psycopg2.extensions.parse_dsn(dsn)["dbname"])


async def admin_execute(admin_dsn: str, statement: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) outside a transaction."""
    db = await Database.connect(admin_dsn, 1)
    try:
        await db.execute(statement)
    finally:
        await db.close()

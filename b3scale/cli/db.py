"""``b3scale db migrate|status``: the schema, for operators."""

from __future__ import annotations

import asyncio

import click

from b3scale.cli.common import EXIT_CONFIG, EXIT_FAILURE, database_config, fail, startup_config
from b3scale.config import Config
from b3scale.store.db import Database, DatabaseUnavailable
from b3scale.store.migrate import SchemaStatus, SchemaTooNew, migrate, schema_status


@click.group()
def db() -> None:
    """Inspect and migrate the database schema."""


async def _status(config: Config) -> SchemaStatus:
    assert config.db_url is not None
    database = await Database.connect(config.db_url, 1)
    try:
        return await schema_status(database)
    finally:
        await database.close()


async def _migrate(config: Config) -> list[str]:
    assert config.db_url is not None
    database = await Database.connect(config.db_url, 1)
    try:
        return [f"{m.version:04d}_{m.name}" for m in await migrate(database)]
    finally:
        await database.close()


@db.command()
def status() -> None:
    """Show the applied and pending migrations (exit 1 if any are pending)."""
    config = startup_config()
    with database_config(config) as config:
        try:
            result = asyncio.run(_status(config))
        except DatabaseUnavailable as exc:
            fail(str(exc))
    for applied in result.applied:
        when = f"{applied.applied_at:%Y-%m-%d %H:%M:%S%z}"
        click.echo(f"applied  {applied.version:04d}_{applied.name}  {when}")
    for pending in result.pending:
        click.echo(f"pending  {pending.version:04d}_{pending.name}")
    click.echo(f"schema version {result.current}, this b3scale knows up to {result.latest_known}")
    if result.too_new:
        fail("the database schema is newer than this b3scale", EXIT_CONFIG)
    if result.pending:
        raise SystemExit(EXIT_FAILURE)


@db.command(name="migrate")
def migrate_command() -> None:
    """Apply pending migrations (serve also does this at start)."""
    config = startup_config()
    with database_config(config) as config:
        try:
            applied = asyncio.run(_migrate(config))
        except DatabaseUnavailable as exc:
            fail(str(exc))
        except SchemaTooNew as exc:
            fail(str(exc), EXIT_CONFIG)
    for name in applied:
        click.echo(f"applied  {name}")
    click.echo("schema is up to date" if not applied else f"{len(applied)} migration(s) applied")

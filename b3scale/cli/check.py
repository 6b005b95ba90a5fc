"""``b3scale check``: is this machine ready to run b3scale? For deploy scripts and a unit's
ExecStartPre: the configuration, the database (reached, schema), what serve would need.

Exit codes: 0 ready; 1 something it depends on does not answer or is not ready (the database
is down, migrations are pending, the recordings folder is not writable); 2 the configuration
is wrong (a bad variable, a schema newer than this b3scale).
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request

import click

from b3scale import __version__
from b3scale.cli.common import EXIT_CONFIG, EXIT_FAILURE, fail, startup_config
from b3scale.config import Config
from b3scale.store.db import Database, DatabaseUnavailable, redact_dsn
from b3scale.store.migrate import SchemaStatus, schema_status


async def _schema(config: Config) -> SchemaStatus:
    assert config.db_url is not None
    database = await Database.connect(config.db_url, 1, name="b3scale-check")
    try:
        return await schema_status(database)
    finally:
        await database.close()


def wait_healthy(config: Config, timeout: float) -> None:
    """Until this machine's serve answers /healthz with 200 (a unit's readiness)."""
    host = config.listen_host or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    address = f"[{host}]" if ":" in host else host
    url = f"http://{address}:{config.listen_port}/healthz"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    click.echo(f"serve answers {url}")
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            fail(f"serve did not answer {url} within {timeout:.0f} s", EXIT_FAILURE)
        time.sleep(0.5)


@click.command()
@click.option(
    "--healthz",
    is_flag=True,
    help="Only wait (up to --timeout) until this machine's serve answers /healthz.",
)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds --healthz waits.")
def check(healthz: bool, timeout: float) -> None:
    """Check the configuration and reach the database; a few lines, exit 0/1/2."""
    config = startup_config()  # exits 2 naming a bad variable
    if healthz:
        wait_healthy(config, timeout)
        return
    problems: list[str] = []
    click.echo(f"b3scale {__version__}: configuration read")
    click.echo(f"listen: {config.listen_address}, workers: {config.workers}")
    if config.api_jwt_secret:
        click.echo("REST API: on (B3SCALE_API_JWT_SECRET set)")
    else:
        click.echo("REST API: off (no B3SCALE_API_JWT_SECRET: no API, no dashboard, no agents)")
    click.echo(f"public URL: {config.public_url or 'unset (callbacks go straight to frontends)'}")
    if config.recordings_dir is not None:
        folder = config.recordings_dir
        writable = folder.is_dir() and os.access(folder, os.W_OK)
        creatable = not folder.exists() and os.access(folder.parent, os.W_OK)
        click.echo(
            f"recordings: {folder} ({'writable' if writable or creatable else 'NOT writable'})"
        )
        if not (writable or creatable):
            problems.append(f"the recordings folder {folder} is not writable")
    if config.db_url is None:
        click.echo(f"database: embedded, in {config.data_dir}")
    else:
        try:
            status = asyncio.run(_schema(config))
        except DatabaseUnavailable as exc:
            click.echo(f"database: {redact_dsn(config.db_url)}: NOT reachable")
            fail(f"the database does not answer: {exc}", EXIT_FAILURE)
        click.echo(
            f"database: {redact_dsn(config.db_url)}: schema {status.current} of "
            f"{status.latest_known}"
        )
        if status.too_new:
            fail(
                f"the database schema ({status.current}) is newer than this b3scale knows "
                f"({status.latest_known}): run the newer release",
                EXIT_CONFIG,
            )
        if status.pending:
            problems.append(
                f"{len(status.pending)} migrations pending: run b3scale db migrate "
                "(serve also does it at start)"
            )
    if problems:
        fail("; ".join(problems), EXIT_FAILURE)
    click.echo("ready")

"""What every subcommand does first: configuration, logging, the database to use."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click

from b3scale.config import Config, ConfigError, load_config
from b3scale.logs import setup_logging
from b3scale.store.db import create_database_if_missing, redact_dsn
from b3scale.store.embedded import EmbeddedPostgresError, LocalCluster

log = logging.getLogger("b3scale")

#: Exit codes: 1 = a failure while running, 2 = the configuration or the environment is wrong.
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_FAILURE) -> None:
    """One line on stderr, then exit; never a traceback."""
    click.echo(f"b3scale: {message}", err=True)
    raise SystemExit(code)


def startup_config() -> Config:
    """Load the configuration and set up logging, or exit 2 naming the bad variable."""
    try:
        config = load_config()
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
        raise  # unreachable; tells the type checker so
    setup_logging(config.log_level, config.log_format)
    for name in config.env_files_used:
        log.info("using environment from file", extra={"file": name})
    return config


@contextmanager
def database_config(config: Config) -> Iterator[Config]:
    """The configuration with ``db_url`` set: the operator's, or the embedded cluster's."""
    if config.db_url is not None:
        log.info("using database", extra={"database": redact_dsn(config.db_url)})
        yield config
        return
    cluster = None
    try:
        cluster = LocalCluster(config.data_dir, bindir=config.pg_bindir)
        cluster.start()
        _create_embedded_database(cluster)
    except EmbeddedPostgresError as exc:
        if cluster is not None:
            cluster.stop()
        fail(str(exc), EXIT_CONFIG)
    assert cluster is not None
    log.info(
        "using the embedded PostgreSQL (B3SCALE_DB_URL is not set)",
        extra={"data_dir": str(cluster.data), "database": cluster.dsn},
    )
    try:
        yield dataclasses.replace(config, db_url=cluster.dsn)
    finally:
        cluster.stop()


def _create_embedded_database(cluster: LocalCluster) -> None:
    asyncio.run(create_database_if_missing(cluster.admin_dsn, "b3scale"))

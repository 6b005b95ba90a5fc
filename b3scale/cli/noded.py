"""``b3scale noded``: the node agent on each BBB server."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
import click

from b3scale import __version__
from b3scale.agent.agent import NodeAgent
from b3scale.agent.properties import PropertiesError, default_files, read_node_settings
from b3scale.agent.registration import NotRegistered, find_or_register
from b3scale.bbb.client import BackendClient
from b3scale.cli.common import EXIT_CONFIG, EXIT_FAILURE, fail, startup_config
from b3scale.cluster.hosts import normalize_host
from b3scale.config import Config
from b3scale.store.db import Database, DatabaseUnavailable
from b3scale.store.migrate import SchemaTooNew, check_schema

log = logging.getLogger("b3scale.noded")

#: The agent needs few connections: heartbeat, one event at a time, a resync.
POOL_SIZE = 4


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "-a",
    "-register",
    "--register",
    "register",
    is_flag=True,
    help="Register this BBB node (admin state init) if the cluster does not know it.",
)
def noded(register: bool) -> None:
    """Report this BBB node's meetings and attendees to the cluster (node agent).

    Reads the node's URL, secret and Redis from BBB_CONFIG; needs B3SCALE_DB_URL.
    """
    config = startup_config()
    if config.db_url is None:
        fail("noded needs B3SCALE_DB_URL: the database of the b3scale cluster", EXIT_CONFIG)
    try:
        settings = read_node_settings(default_files(config.bbb_config))
        normalize_host(settings.server_url)
    except (PropertiesError, ValueError) as exc:
        fail(str(exc), EXIT_CONFIG)
        raise
    log.info("b3scale node agent", extra={"version": __version__, "config": settings.files})
    try:
        asyncio.run(run(config, settings.server_url, settings.secret, settings.redis_url, register))
    except NotRegistered as exc:
        fail(str(exc), EXIT_FAILURE)
    except DatabaseUnavailable as exc:
        fail(str(exc), EXIT_FAILURE)
    except SchemaTooNew as exc:
        fail(str(exc), EXIT_CONFIG)
    log.info("node agent stopped")


async def run(config: Config, server_url: str, secret: str, redis_url: str, register: bool) -> None:
    assert config.db_url is not None
    db = await Database.connect(config.db_url, POOL_SIZE, name="b3scale-noded")
    try:
        await check_schema(db)
        backend = await find_or_register(db, server_url, secret, config.load_factor, register)
        async with aiohttp.ClientSession() as http:
            client = BackendClient(http, backend.host, secret)
            agent = NodeAgent(db, client, backend.id, redis_url)
            task = asyncio.create_task(agent.run())
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, agent.stop)
            await task
    finally:
        await db.close()

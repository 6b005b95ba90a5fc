"""``b3scale noded``: the node agent on each BBB server."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import aiohttp
import click

from b3scale import __version__
from b3scale.agent.agent import NodeAgent
from b3scale.agent.links import ApiError, ApiLink, DatabaseLink, LinkRefused
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

    Reads the node's URL, secret and Redis from BBB_CONFIG. Reports through the REST API with
    B3SCALE_API_URL and B3SCALE_API_ACCESS_TOKEN (a b3scale:node token from
    `b3scale ctl auth authorize_node_agent`); or, deprecated, straight to the database with
    B3SCALE_DB_URL.
    """
    config = startup_config()
    if config.api_access_token is None and config.db_url is None:
        fail(
            "noded needs B3SCALE_API_ACCESS_TOKEN (a b3scale:node token: b3scale ctl auth "
            "authorize_node_agent) and B3SCALE_API_URL; or, deprecated, B3SCALE_DB_URL",
            EXIT_CONFIG,
        )
    try:
        settings = read_node_settings(default_files(config.bbb_config))
        normalize_host(settings.server_url)
    except (PropertiesError, ValueError) as exc:
        fail(str(exc), EXIT_CONFIG)
        raise
    log.info("b3scale node agent", extra={"version": __version__, "config": settings.files})
    node = (settings.server_url, settings.secret, settings.redis_url)
    try:
        if config.api_access_token is not None:
            if config.db_url is not None:
                log.warning("B3SCALE_DB_URL is not used: noded reports through the API")
            refused = asyncio.run(run_api(config, config.api_access_token, *node, register))
        else:
            log.warning(
                "noded writes to the cluster's database (deprecated): give it a b3scale:node "
                "token and B3SCALE_API_URL instead, and no database credentials"
            )
            refused = asyncio.run(run_database(config, *node, register))
    except NotRegistered as exc:
        fail(str(exc), EXIT_FAILURE)
    except DatabaseUnavailable as exc:
        fail(str(exc), EXIT_FAILURE)
    except SchemaTooNew as exc:
        fail(str(exc), EXIT_CONFIG)
    except LinkRefused as exc:
        fail(str(exc), EXIT_FAILURE)
    if refused is not None:
        fail(str(refused), EXIT_FAILURE)
    log.info("node agent stopped")


async def run_agent(agent: NodeAgent) -> LinkRefused | None:
    """Run until SIGTERM/SIGINT or until the cluster refuses the agent (returned)."""
    task = asyncio.create_task(agent.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stop)
    await task
    return agent.refused


async def run_api(
    config: Config, token: str, server_url: str, secret: str, redis_url: str, register: bool
) -> LinkRefused | None:
    async with aiohttp.ClientSession() as http:
        link = ApiLink(http, config.api_url, token)
        backend = await announce(link, server_url, secret, config.load_factor, register)
        client = BackendClient(http, backend["bbb"]["host"], secret)
        return await run_agent(NodeAgent(link, client, redis_url))


async def announce(
    link: ApiLink, server_url: str, secret: str, load_factor: float, register: bool
) -> dict[str, Any]:
    """Tell the cluster about this node (registering it if asked); while the API does not
    answer, try again every few seconds: the node's BBB works meanwhile."""
    body = {"host": server_url, "secret": secret, "load_factor": load_factor, "register": register}
    delay = 1.0
    while True:
        try:
            backend = await link.call("PUT", "/agent/backend", payload=body)
        except ApiError as exc:
            if 400 <= exc.status < 500:
                raise NotRegistered(str(exc)) from None
            log.warning(
                "the cluster's API does not answer; trying again",
                extra={"error": str(exc), "retry_in": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        assert isinstance(backend, dict)
        log.info(
            "reporting to the cluster's API",
            extra={"backend": backend["bbb"]["host"], "admin_state": backend["admin_state"]},
        )
        return backend


async def run_database(
    config: Config, server_url: str, secret: str, redis_url: str, register: bool
) -> LinkRefused | None:
    assert config.db_url is not None
    db = await Database.connect(config.db_url, POOL_SIZE, name="b3scale-noded")
    try:
        await check_schema(db)
        backend = await find_or_register(db, server_url, secret, config.load_factor, register)
        async with aiohttp.ClientSession() as http:
            client = BackendClient(http, backend.host, secret)
            return await run_agent(NodeAgent(DatabaseLink(db, backend.id), client, redis_url))
    finally:
        await db.close()

"""``create_app(config)``: the only way to build the HTTP application (serve and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from b3scale.cluster.callbacks import CallbackDelivery
from b3scale.cluster.commands import CommandRunner
from b3scale.cluster.controller import Controller, ControllerSettings
from b3scale.cluster.frontend_cache import FrontendCache
from b3scale.cluster.gateway import build_gateway
from b3scale.cluster.load_history import LoadHistory
from b3scale.cluster.services import Services, load_retry_key
from b3scale.cluster.stats import ClusterStats
from b3scale.config import Config
from b3scale.store.db import Database, redact_dsn
from b3scale.store.files import LocalFiles
from b3scale.store.migrate import migrate
from b3scale.web import bbbapi, dashboard, health, node_callbacks, playback
from b3scale.web.api.app import PREFIX, create_api
from b3scale.web.api.auth import RECOMMENDED_SECRET_LENGTH
from b3scale.web.keys import (
    COMMANDS,
    CONFIG,
    CONTROLLER,
    DATABASE,
    FRONTENDS,
    GATEWAY,
    HTTP_SESSION,
    METRICS,
    RECORDING_FILES,
    RETRY_KEY,
    STATS,
)
from b3scale.web.metrics import Metrics, metrics_endpoint, metrics_middleware, share_counts_ctx
from b3scale.web.server import HANDLER_ARGS, install_log_filter

log = logging.getLogger(__name__)

#: How long background jobs get to finish their round when the app stops.
BACKGROUND_STOP_TIMEOUT = 15.0

#: Backend calls: connect fast, but give BBB time for a create with a large presentation.
BACKEND_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=5)


#: Instances a cluster should be able to run on its database (high availability).
INSTANCES_PLANNED = 2


async def warn_if_the_pool_does_not_fit(db: Database, pool_size: int, workers: int = 1) -> None:
    """Each worker of an instance opens ``pool_size`` connections and one for LISTEN; a stock
    PostgreSQL allows 100, three of them kept for superusers (and psql during an incident)."""
    limit, reserved = await db.connection_budget()
    needed = INSTANCES_PLANNED * workers * (pool_size + 1)
    if needed > limit - reserved:
        log.warning(
            "the database allows too few connections for two instances with this pool: "
            "lower B3SCALE_DB_POOL_SIZE or raise max_connections",
            extra={
                "pool_size": pool_size,
                "workers": workers,
                "needed_for_two_instances": needed,
                "max_connections": limit,
                "superuser_reserved": reserved,
            },
        )


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if config.db_url is None:
        raise RuntimeError("create_app needs config.db_url (serve resolves the embedded one)")
    db = await Database.connect(config.db_url, config.db_pool_size)
    log.info(
        "database pool",
        extra={"database": redact_dsn(config.db_url), "pool_size": config.db_pool_size},
    )
    try:
        if not config.worker_index:  # once per instance, not once per worker
            await warn_if_the_pool_does_not_fit(db, config.db_pool_size, config.workers)
        applied = await migrate(db)
        if applied:
            log.info("schema migrated", extra={"applied": [m.version for m in applied]})
        app[DATABASE] = db
        app[RETRY_KEY] = await load_retry_key(db)
        yield
    finally:
        await db.close()


async def http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=64, ttl_dns_cache=300)
    # No cookie jar: the BBB API is stateless, and a node's session cookie has no use here.
    async with aiohttp.ClientSession(
        connector=connector, timeout=BACKEND_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        app[HTTP_SESSION] = session
        yield


async def cluster_ctx(app: web.Application) -> AsyncIterator[None]:
    """The gateway chain and the background controller, on the shared pool and session."""
    config = app[CONFIG]
    services = Services(
        db=app[DATABASE],
        http=app[HTTP_SESSION],
        retry_key=app[RETRY_KEY],
        reverse_proxy_mode=config.reverse_proxy_mode,
        stats=app[STATS],
        public_url=config.public_url,
        unique_voice_bridges=config.unique_voice_bridges,
        recording_files=app.get(RECORDING_FILES),
    )
    app[GATEWAY] = build_gateway(services)
    app[FRONTENDS] = frontends = FrontendCache(services.db)
    controller = Controller(
        services,
        ControllerSettings(
            poll_interval=config.poll_interval, agent_poll_interval=config.agent_poll_interval
        ),
    )
    app[CONTROLLER] = controller
    app[COMMANDS] = runner = CommandRunner(services)
    stop = asyncio.Event()
    jobs = [frontends.run(stop), services.routes.run(stop)]
    if config.run_controller:
        delivery = CallbackDelivery(services.db, services.http, app[STATS].callbacks)
        history = LoadHistory(services.db)
        jobs += [controller.run(stop), runner.run(stop), delivery.run(stop), history.run(stop)]
    tasks = [asyncio.create_task(job) for job in jobs]
    yield
    # Ask the jobs to finish what they are doing (cancelling aiopg mid-query can hang its
    # pool); cancel only what is still running after the grace period.
    stop.set()
    _, late = await asyncio.wait(tasks, timeout=BACKGROUND_STOP_TIMEOUT)
    await services.info_writes.drain()
    await services.state_writes.drain()
    for task in late:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(config: Config) -> web.Application:
    metrics = Metrics()
    install_log_filter()
    app = web.Application(
        client_max_size=bbbapi.MAX_BODY_SIZE,
        middlewares=[metrics_middleware(metrics)],
        handler_args=HANDLER_ARGS,
    )
    app[CONFIG] = config
    app[METRICS] = metrics
    app[STATS] = ClusterStats()
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(http_session_ctx)
    app.cleanup_ctx.append(cluster_ctx)
    app.cleanup_ctx.append(share_counts_ctx)
    app.add_routes(health.routes)
    app.router.add_get("/metrics", metrics_endpoint)
    bbbapi.add_routes(app)
    app.router.add_route("*", "/b3s/callback/{token}", node_callbacks.receive)
    if config.recordings_dir is not None:
        config.recordings_dir.mkdir(parents=True, exist_ok=True)
        app[RECORDING_FILES] = LocalFiles(config.recordings_dir)
        playback.add_routes(app)
        if not (config.recordings_playback_url or config.public_url):
            log.warning(
                "imported recordings keep their nodes' playback links: set "
                "B3SCALE_RECORDINGS_PLAYBACK_URL (or B3SCALE_PUBLIC_URL) to the host serving them"
            )
    if config.api_jwt_secret:
        app.add_subapp(PREFIX, create_api(config.api_jwt_secret))
        dashboard.add_routes(app)
        if len(config.api_jwt_secret.encode()) < RECOMMENDED_SECRET_LENGTH:
            log.warning(
                "B3SCALE_API_JWT_SECRET is shorter than 32 bytes; tokens signed with "
                "it are easier to forge: use a long random secret"
            )
    else:
        log.warning("REST API disabled: B3SCALE_API_JWT_SECRET is not set")
    if not config.public_url:
        log.warning(
            "callbacks go from the nodes straight to the frontends (with the nodes' meeting "
            "IDs and secrets): set B3SCALE_PUBLIC_URL to relay them through b3scale"
        )
    return app

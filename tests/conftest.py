"""Fixtures: a PostgreSQL and a Redis server started once per test session.

Set B3SCALE_TEST_DB_URL (a DSN whose user may CREATE DATABASE) or B3SCALE_TEST_REDIS_URL to use
servers of your own instead. Every test that takes ``db`` starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from b3scale.config import Config
from b3scale.sim.node import SimNode
from b3scale.store.db import Database
from b3scale.store.migrate import migrate
from b3scale.web.app import create_app
from tests.support.pg import admin_execute, dsn_for
from tests.support.services import throwaway_postgres, throwaway_redis

TEST_DATABASE = "b3scale_test"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """A DSN to a maintenance database of a server where we may create databases."""
    configured = os.environ.get("B3SCALE_TEST_DB_URL")
    if configured:
        yield configured
        return
    with throwaway_postgres() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def migrated_db_url(pg_admin_dsn: str) -> str:
    """A database with the schema applied, once per session."""
    asyncio.run(
        admin_execute(pg_admin_dsn, f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
    )
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {TEST_DATABASE}"))
    url = dsn_for(pg_admin_dsn, TEST_DATABASE)

    async def apply() -> None:
        db = await Database.connect(url, 1)
        try:
            await migrate(db)
        finally:
            await db.close()

    asyncio.run(apply())
    return url


@pytest.fixture
def empty_db_url(pg_admin_dsn: str) -> Iterator[str]:
    """A brand-new database without any schema, dropped after the test."""
    name = f"b3scale_empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    yield dsn_for(pg_admin_dsn, name)
    asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def db(migrated_db_url: str) -> AsyncIterator[Database]:
    """The migrated test database with every table emptied."""
    database = await Database.connect(migrated_db_url, 4)
    await database.execute(
        "TRUNCATE frontends, backends, meetings, attendees, frontend_backends, commands, "
        "callbacks, recording_uploads "
        "RESTART IDENTITY CASCADE"
    )
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    configured = os.environ.get("B3SCALE_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with throwaway_redis() as url:
        yield url


@pytest.fixture
def config(migrated_db_url: str) -> Config:
    return Config(db_url=migrated_db_url, db_pool_size=8, log_format="plain")


@pytest.fixture
async def client(
    db: Database,
    config: Config,
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
) -> TestClient[web.Request, web.Application]:
    """The real application on a loopback port, on an emptied database."""
    return await aiohttp_client(create_app(config))


@pytest.fixture
async def sim() -> AsyncIterator[SimNode]:
    """One simulated BBB node on a free loopback port."""
    node = SimNode(secret="sim-secret")
    await node.start()
    try:
        yield node
    finally:
        await node.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fleet() -> AsyncIterator[list[SimNode]]:
    """Three simulated BBB nodes."""
    nodes = [SimNode(secret=f"node-secret-{i}") for i in range(3)]
    for node in nodes:
        await node.start()
    try:
        yield nodes
    finally:
        for node in nodes:
            await node.close()


@pytest.fixture
async def gateway(
    db: Database,
    migrated_db_url: str,
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
) -> TestClient[web.Request, web.Application]:
    """b3scale on loopback without its background poller (tests poll when they mean to)."""
    config = Config(db_url=migrated_db_url, db_pool_size=16, run_controller=False)
    return await aiohttp_client(create_app(config))

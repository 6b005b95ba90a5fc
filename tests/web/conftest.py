"""Fixtures of the web tests: the REST API app, and a gateway with three ready backends."""

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from b3scale.config import Config
from b3scale.sim.node import SimNode
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.web.app import create_app
from tests.support.browser import browser  # noqa: F401 - a fixture of the web tests
from tests.support.cluster import App, add_backend

#: The seed README's API secret ("fooo"), short on purpose.
API_SECRET = "fooo"


@pytest.fixture
async def api(
    db: Database,
    migrated_db_url: str,
    aiohttp_client: Callable[[web.Application], Awaitable[App]],
) -> App:
    config = Config(
        db_url=migrated_db_url, db_pool_size=8, run_controller=False, api_jwt_secret=API_SECRET
    )
    return await aiohttp_client(create_app(config))


@pytest.fixture
async def ready(db: Database, gateway: App, fleet: list[SimNode]) -> list[Backend]:
    return [await add_backend(db, gateway, node) for node in fleet]

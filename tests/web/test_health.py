from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

import b3scale
from b3scale.config import Config
from b3scale.store.db import Database
from b3scale.web.app import create_app
from tests.support.pg import admin_execute, dbname_of

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


async def test_index_names_the_product_and_version(
    client: TestClient[web.Request, web.Application],
) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert await resp.json() == {"name": "b3scale", "version": b3scale.__version__}


async def test_healthz_is_ok_while_the_database_answers(
    client: TestClient[web.Request, web.Application],
) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok" and body["database"] == "ok"


async def test_healthz_is_503_when_the_database_is_gone(
    empty_db_url: str, pg_admin_dsn: str, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(create_app(Config(db_url=empty_db_url, db_pool_size=2)))
    assert (await client.get("/healthz")).status == 200
    await admin_execute(pg_admin_dsn, f"DROP DATABASE {dbname_of(empty_db_url)} WITH (FORCE)")
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert (await resp.json())["database"] == "unreachable"


async def test_app_start_migrates_an_empty_database(
    empty_db_url: str, aiohttp_client: AiohttpClient
) -> None:
    await aiohttp_client(create_app(Config(db_url=empty_db_url, db_pool_size=2)))
    db = await Database.connect(empty_db_url, 1)
    try:
        assert await db.fetch_value("SELECT max(version) FROM schema_migrations") >= 1
    finally:
        await db.close()

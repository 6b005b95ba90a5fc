"""The frontend cache holds the whole table once it listens: invented keys cannot take the
database from the real frontends, and every change (insert, update, delete, truncate) reaches it
through its NOTIFY."""

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from b3scale.cluster.frontend_cache import MISS_LOOKUPS
from b3scale.config import Config
from b3scale.store.db import Database
from b3scale.store.frontends import Frontend, insert_frontend
from b3scale.web.app import create_app
from b3scale.web.keys import FRONTENDS
from tests.support.bbbclient import FrontendClient
from tests.support.cluster import App


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the cache did not follow"
        await asyncio.sleep(0.05)


async def test_invented_keys_cannot_starve_known_frontends_and_changes_arrive(
    db: Database,
    migrated_db_url: str,
    aiohttp_client: Callable[[web.Application], Awaitable[App]],
) -> None:
    # Added before the instance starts: in its table from the first load, no NOTIFY pending.
    await insert_frontend(db, "known", "known-secret")
    gateway = await aiohttp_client(
        create_app(Config(db_url=migrated_db_url, db_pool_size=16, run_controller=False))
    )
    known = FrontendClient(gateway, "known", "known-secret")
    cache = gateway.app[FRONTENDS]
    await asyncio.wait_for(cache.listening.wait(), 10)

    # A flood of invented keys while their lookups cannot finish (the table is locked): the
    # known frontend is still answered, and the flood holds only MISS_LOOKUPS connections.
    async with db.transaction() as locked:
        await locked.execute("LOCK TABLE frontends IN ACCESS EXCLUSIVE MODE")
        invented = [
            asyncio.create_task(FrontendClient(gateway, f"invented-{n}", "x").call("getMeetings"))
            for n in range(100)
        ]
        await asyncio.sleep(0.5)
        assert (await asyncio.wait_for(cache.get("known"), 2)) is not None
        waiting = await db.fetch_one(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%%FROM frontends WHERE key%%'"
        )
        assert waiting is not None and waiting["n"] == MISS_LOOKUPS
        assert not any(task.done() for task in invented)
    answers = await asyncio.wait_for(asyncio.gather(*invented), 10)
    assert {a.message_key for a in answers} == {"unknownFrontend"}

    await insert_frontend(db, "later", "later-secret")
    await eventually(lambda: _is_there(cache.get("later")))
    assert (await known.call("getMeetings")).returncode == "SUCCESS"

    await db.execute("UPDATE frontends SET active = false WHERE key = 'known'")
    await eventually(lambda: _is_inactive(cache.get("known")))
    assert (await known.call("getMeetings")).message_key == "frontendDisabled"

    await db.execute("DELETE FROM frontends WHERE key = 'later'")
    await eventually(lambda: _is_gone(cache.get("later")))

    await db.execute("TRUNCATE frontends CASCADE")
    await eventually(lambda: _is_gone(cache.get("known")))
    await insert_frontend(db, "after-truncate", "s")
    await eventually(lambda: _is_there(cache.get("after-truncate")))


async def _is_there(found: Awaitable[Frontend | None]) -> bool:
    return await found is not None


async def _is_gone(found: Awaitable[Frontend | None]) -> bool:
    return await found is None


async def _is_inactive(found: Awaitable[Frontend | None]) -> bool:
    frontend = await found
    return frontend is not None and not frontend.active

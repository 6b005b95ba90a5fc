"""The dashboard's load history lives in the database: sampled on the cluster's common 30-s
ticks by the instances that run background jobs, shown the same by every instance."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from b3scale.cluster.load_history import seconds_to_next_tick
from b3scale.config import Config
from b3scale.store import load_samples
from b3scale.store.backends import insert_backend
from b3scale.store.db import Database
from b3scale.web.api.auth import sign_token
from b3scale.web.app import create_app
from tests.support.cluster import App

SECRET = "load-history-api-secret-0123456789-abc"


async def overview(client: App, cookie: str) -> dict[str, Any]:
    resp = await client.get("/ui/api/overview", headers={"Cookie": f"b3s_ui={cookie}"})
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def test_every_instance_shows_the_history_sampled_by_the_one_running_jobs(
    db: Database,
    migrated_db_url: str,
    aiohttp_client: Callable[[web.Application], Awaitable[App]],
) -> None:
    busy = await insert_backend(db, "http://busy/bigbluebutton/api/", "s")
    idle = await insert_backend(db, "http://idle/bigbluebutton/api/", "s")
    await db.execute(
        "UPDATE backends SET meetings_count = 2, attendees_count = 10 WHERE id = %s", (busy.id,)
    )
    # Sampled five minutes ago, before either instance started.
    await db.execute(
        "INSERT INTO backend_load_samples VALUES (%s, now() - interval '5 minutes', 99, 7, 80)",
        (busy.id,),
    )
    sampling = await aiohttp_client(
        create_app(Config(db_url=migrated_db_url, api_jwt_secret=SECRET, run_controller=True))
    )
    watching = await aiohttp_client(
        create_app(Config(db_url=migrated_db_url, api_jwt_secret=SECRET, run_controller=False))
    )
    token = sign_token(SECRET, "operator", "b3scale:admin", 600)
    login = await watching.post("/ui/login", data={"token": token}, allow_redirects=False)
    assert login.status == 303
    cookie = login.cookies["b3s_ui"].value

    for _ in range(100):  # the sampling instance's first round comes at its start
        seen = (await overview(watching, cookie))["history"]
        if len(seen) == 2:
            break
        await asyncio.sleep(0.05)
    assert set(seen) == {str(busy.id), str(idle.id)}
    [earlier, (at, load, meetings, attendees)] = seen[str(busy.id)]
    assert earlier[1:] == [99.0, 7, 80]
    assert (load, meetings, attendees) == (30.0, 2, 10)  # 15 per meeting outweighs 10 users
    assert at % load_samples.SAMPLE_EVERY == 0
    assert [s[1:] for s in seen[str(idle.id)]] == [[0.0, 0, 0]]
    # The instance that sampled shows the same; the watching one sampled nothing itself.
    assert (await overview(sampling, cookie))["history"] == seen


async def test_a_tick_is_sampled_once_and_an_hour_is_kept(db: Database) -> None:
    backend = await insert_backend(db, "http://node/bigbluebutton/api/", "s")
    first = await load_samples.record_samples(db)
    again = await load_samples.record_samples(db)  # another instance, the same tick
    # (Right at a tick's end the second call may open the next tick: one more sample.)
    assert first == 1 and again in (0, 1)
    await db.execute(
        "INSERT INTO backend_load_samples VALUES (%s, now() - interval '61 minutes', 1, 1, 1)",
        (backend.id,),
    )
    await load_samples.record_samples(db)
    history = await load_samples.select_samples(db)
    assert all(s[1:] == (0.0, 0, 0) for s in history[backend.id])
    old = await db.fetch_value(
        "SELECT count(*) FROM backend_load_samples WHERE sampled_at < now() - interval '1 hour'"
    )
    assert old == 0
    # A deleted backend's samples go with it.
    await db.execute("DELETE FROM backends WHERE id = %s", (backend.id,))
    assert await load_samples.select_samples(db) == {}


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(st.floats(min_value=1e9, max_value=4e9, allow_nan=False))
def test_each_round_lands_just_past_a_tick(now: float) -> None:
    wait = seconds_to_next_tick(now)
    assert 1.0 < wait <= load_samples.SAMPLE_EVERY + 1.0
    ticks = (now + wait - 1.0) / load_samples.SAMPLE_EVERY
    assert math.isclose(ticks, round(ticks), abs_tol=1e-6)

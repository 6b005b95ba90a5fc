"""The route cache against the real database."""

import asyncio

from b3scale.cluster.route_cache import RouteCache
from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend


async def test_simultaneous_lookups_of_one_meeting_cost_one_query(db: Database) -> None:
    frontend = await insert_frontend(db, "fe", "s", {})
    backend = await backend_store.insert_backend(db, "http://n1/bigbluebutton/api/", "s")
    await db.execute("UPDATE backends SET node_state = 'ready'")  # as after a poll
    placed = await meeting_store.place_meeting(
        db, "fe-room", "room", frontend.id, is_breakout=False, required_tags=[], exclude=[]
    )
    assert placed is not None and placed.meeting.backend_id == backend.id
    # A pool of one: every lookup that wanted its own query would queue for the connection.
    lookups = await Database.connect(db.dsn, 1)
    try:
        routes = RouteCache(lookups)
        pending = [asyncio.create_task(routes.meeting("fe-room")) for _ in range(50)]
        for _ in range(5):  # every task has started its lookup (and any query its own)
            await asyncio.sleep(0)
        assert lookups.waiting == 0  # one query in flight, 49 callers sharing it
        rows = await asyncio.gather(*pending)
        assert [row.external_id if row else None for row in rows] == ["room"] * 50
        again = await asyncio.gather(*(routes.meeting("fe-room") for _ in range(5)))
        assert [row.external_id if row else None for row in again] == ["room"] * 5
    finally:
        await lookups.close()

"""Placement in the database (``b3scale_place_meeting``): what it chooses and what it records."""

import asyncio
from uuid import UUID

from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend


async def ready_backend(
    db: Database,
    name: str,
    tags: list[str] | None = None,
    meetings: int = 0,
    attendees: int = 0,
    breakouts: int = 0,
    factor: float = 1.0,
) -> Backend:
    """A backend as after a successful poll, with the given counts."""
    backend = await backend_store.insert_backend(
        db, f"http://{name}/bigbluebutton/api/", "s", settings={"tags": tags} if tags else None
    )
    await db.execute(
        "UPDATE backends SET node_state = 'ready', meetings_count = %s, attendees_count = %s, "
        "breakouts_count = %s, load_factor = %s WHERE id = %s",
        (meetings, attendees, breakouts, factor, backend.id),
    )
    refreshed = await backend_store.select_backend(db, backend.id)
    assert refreshed is not None
    return refreshed


async def place(
    db: Database,
    frontend: UUID,
    meeting: str,
    required_tags: list[str] | None = None,
    exclude: list[UUID] | None = None,
) -> UUID | None:
    result = await meeting_store.place_meeting(
        db,
        meeting,
        meeting,
        frontend,
        is_breakout=False,
        required_tags=required_tags or [],
        exclude=exclude or [],
    )
    return result.meeting.backend_id if result else None


async def test_the_load_formula(db: Database) -> None:
    assert (await ready_backend(db, "a", meetings=2, attendees=10)).load == 30
    assert (await ready_backend(db, "b", meetings=2, attendees=100)).load == 100
    assert (await ready_backend(db, "c", meetings=2, attendees=10, factor=2)).load == 60
    assert (await ready_backend(db, "d", breakouts=4)).load == 15  # a quarter meeting each


async def test_least_loaded_fitting_backend_and_the_meeting_counted_there(db: Database) -> None:
    fe = (await insert_frontend(db, "fe", "s", {})).id
    gold = await ready_backend(db, "gold", tags=["gold", "eu"], meetings=5)
    plain = await ready_backend(db, "plain", meetings=1)
    assert await place(db, fe, "a") == plain.id
    assert await place(db, fe, "b", required_tags=["gold"]) == gold.id
    assert await place(db, fe, "c", required_tags=["x"]) is None
    assert await place(db, fe, "d", exclude=[plain.id]) == gold.id
    counts = {b.host: b.meetings_count for b in await backend_store.select_backends(db)}
    assert counts == {gold.host: 7, plain.host: 2}
    # A repeated create finds its meeting where it is, without placing it again.
    result = await meeting_store.place_meeting(
        db, "a", "a", fe, is_breakout=False, required_tags=[], exclude=[]
    )
    assert result is not None and result.meeting.backend_id == plain.id and not result.placed


async def test_a_meeting_on_a_sick_backend_is_placed_anew(db: Database) -> None:
    fe = (await insert_frontend(db, "fe", "s", {})).id
    first = await ready_backend(db, "first")
    assert await place(db, fe, "room") == first.id
    second = await ready_backend(db, "second", meetings=3)
    await db.execute("UPDATE backends SET node_state = 'error' WHERE id = %s", (first.id,))
    assert await place(db, fe, "room") == second.id
    counts = {b.host: b.meetings_count for b in await backend_store.select_backends(db)}
    assert counts == {first.host: 0, second.host: 4}


async def test_ties_are_broken_at_random(db: Database) -> None:
    fe = (await insert_frontend(db, "fe", "s", {})).id
    equal = [await ready_backend(db, f"n{i}") for i in range(4)]
    chosen = set()
    for i in range(40):
        chosen.add(await place(db, fe, f"m{i}"))
        await db.execute("DELETE FROM meetings; UPDATE backends SET meetings_count = 0")
    assert chosen == {b.id for b in equal}


async def test_a_repeated_create_needs_no_placement_lock(db: Database) -> None:
    """While another placement holds the cluster-wide lock, a repeated create of a running
    meeting is answered at once; a new meeting waits for the lock."""
    fe = (await insert_frontend(db, "fe", "s", {})).id
    backend = await ready_backend(db, "node")
    assert await place(db, fe, "running") == backend.id
    async with db.transaction() as holder:
        await holder.execute(
            "SELECT pg_advisory_xact_lock(%s)", (meeting_store.PLACEMENT_LOCK_KEY,)
        )
        assert await asyncio.wait_for(place(db, fe, "running"), timeout=2) == backend.id
        new = asyncio.ensure_future(place(db, fe, "new"))
        await asyncio.sleep(0.3)
        assert not new.done()  # waits for the lock
    assert await asyncio.wait_for(new, timeout=5) == backend.id


async def test_create_claims_a_polled_meeting_and_refuses_another_frontends(db: Database) -> None:
    mine = (await insert_frontend(db, "mine", "s", {})).id
    theirs = (await insert_frontend(db, "theirs", "s", {})).id
    backend = await ready_backend(db, "node")
    await db.execute(
        "INSERT INTO meetings (id, external_id, backend_id, running) VALUES "
        "('polled', 'polled', %s, true)",
        (backend.id,),
    )
    result = await meeting_store.place_meeting(
        db, "polled", "polled", mine, is_breakout=False, required_tags=[], exclude=[]
    )
    assert result is not None and not result.placed and result.meeting.frontend_id == mine
    try:
        await meeting_store.place_meeting(
            db, "polled", "polled", theirs, is_breakout=False, required_tags=[], exclude=[]
        )
    except meeting_store.PlacementRefused as refusal:
        assert refusal.reason == "foreignMeeting"
    else:
        raise AssertionError("another frontend's meeting was placed for this one")
    assert await db.fetch_value("SELECT frontend_id FROM meetings WHERE id = 'polled'") == mine


async def test_the_unflushed_commit_stays_with_the_placement(
    db: Database, migrated_db_url: str
) -> None:
    """The placement commits without waiting for the disk, for its own transaction only: the
    pooled connection's next statements (API writes, state writes) commit durably as set."""
    del db  # (emptied the tables)
    single = await Database.connect(migrated_db_url, 1)  # one connection: the same session
    try:
        before = await single.fetch_one(
            "SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'"
        )
        frontend = await insert_frontend(single, "fe-durable", "s")
        backend = await ready_backend(single, "durable")
        assert await place(single, frontend.id, "durable-meeting") == backend.id
        after = await single.fetch_one(
            "SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'"
        )
        assert after == before and after is not None and after["source"] != "session"
    finally:
        await single.close()

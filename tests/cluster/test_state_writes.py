"""Meeting states written in groups, against the real database."""

import asyncio
from dataclasses import dataclass
from uuid import UUID

import pytest

from b3scale.cluster.state_writes import GroupedStateWrites
from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.db import Database, DatabaseError
from b3scale.store.frontends import insert_frontend
from b3scale.store.meetings import MeetingState


def state(name: str, attendees: int, xml: str = "<meeting/>") -> MeetingState:
    return MeetingState(
        internal_id=f"internal-{name}",
        name=name,
        running=True,
        is_breakout=False,
        parent_id=None,
        create_time=1,
        attendees=attendees,
        moderators=1,
        voice_participants=0,
        video=0,
        listeners=0,
        state={"voiceBridge": "70001"},
        info_xml=xml,
    )


@dataclass(frozen=True)
class Placed:
    id: str
    backend_id: UUID


async def placed_meetings(db: Database, count: int) -> list[Placed]:
    frontend = await insert_frontend(db, "fe", "s", {})
    await backend_store.insert_backend(db, "http://n1/bigbluebutton/api/", "s")
    await db.execute("UPDATE backends SET node_state = 'ready'")
    rows = []
    for i in range(count):
        placed = await meeting_store.place_meeting(
            db, f"m{i}", f"m{i}", frontend.id, is_breakout=False, required_tags=[], exclude=[]
        )
        assert placed is not None and placed.meeting.backend_id is not None
        rows.append(Placed(placed.meeting.id, placed.meeting.backend_id))
    return rows


async def test_racing_writes_go_together_and_each_caller_sees_its_own(db: Database) -> None:
    meetings = await placed_meetings(db, 60)
    writes = GroupedStateWrites(db)
    await asyncio.gather(
        *(writes.write(m.id, m.backend_id, state(m.id, i)) for i, m in enumerate(meetings))
    )
    rows = await db.fetch_all("SELECT id, attendees_count, info_xml FROM meetings ORDER BY id")
    assert {r["id"]: r["attendees_count"] for r in rows} == {
        m.id: i for i, m in enumerate(meetings)
    }
    assert all(r["info_xml"] == "<meeting/>" for r in rows)
    # All 60 arrived before the first statement left: they went in one.
    assert writes.statements == 1
    # A lone write later goes at once.
    await writes.write(meetings[0].id, meetings[0].backend_id, state("x", 99))
    assert writes.statements == 2
    assert await db.fetch_value("SELECT attendees_count FROM meetings WHERE id = 'm0'") == 99


async def test_a_meeting_on_another_backend_now_is_left_alone(db: Database) -> None:
    [meeting] = await placed_meetings(db, 1)
    other = await backend_store.insert_backend(db, "http://n2/bigbluebutton/api/", "s")
    await GroupedStateWrites(db).write(meeting.id, other.id, state("late", 7))
    assert await db.fetch_value("SELECT attendees_count FROM meetings") == 0


async def test_a_failed_statement_fails_every_caller_in_it(db: Database) -> None:
    meetings = await placed_meetings(db, 3)
    writes = GroupedStateWrites(db)
    await writes.write(meetings[0].id, meetings[0].backend_id, state("a", 1))
    # PostgreSQL cannot store a NUL: the statement holding these two fails for both.
    together = [
        asyncio.ensure_future(writes.write(m.id, m.backend_id, state("b", 2, "\x00")))
        for m in meetings[1:]
    ]
    for outcome in await asyncio.gather(*together, return_exceptions=True):
        assert isinstance(outcome, DatabaseError)
    # The writer goes on: a later write succeeds.
    await writes.write(meetings[1].id, meetings[1].backend_id, state("c", 5))
    counts = await db.fetch_all("SELECT id, attendees_count FROM meetings ORDER BY id")
    assert [r["attendees_count"] for r in counts] == [1, 5, 0]
    with pytest.raises(DatabaseError):
        await writes.write(meetings[2].id, meetings[2].backend_id, state("d", 1, "\x00"))

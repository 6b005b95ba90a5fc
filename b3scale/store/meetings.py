"""The ``meetings`` table: which frontend owns a meeting and which backend holds it.

``id`` is the meetingID as the backend sees it (unique across frontends); ``external_id`` is
what the frontend sent. A row is written when a meeting is placed, before the backend is
asked, so that the load counts it at once and a second create finds it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from b3scale.store.backends import HEALTHY_SQL
from b3scale.store.db import Database, Row, Session

#: An advisory lock key serialising placements cluster-wide (a placement takes ~1 ms).
PLACEMENT_LOCK_KEY = 0x62337370


@dataclass(frozen=True, slots=True)
class MeetingRow:
    """A meeting with what the gateway needs of its backend."""

    id: str
    external_id: str
    frontend_id: UUID | None
    backend_id: UUID | None
    internal_id: str | None
    running: bool
    is_breakout: bool
    create_time: int | None
    created_at: datetime
    backend_host: str | None
    backend_secret: str | None
    backend_algorithm: str | None
    backend_admin_state: str | None
    backend_healthy: bool | None

    @classmethod
    def from_row(cls, row: Row) -> MeetingRow:
        return cls(**row)


_SELECT = (
    "SELECT m.id, m.external_id, m.frontend_id, m.backend_id, m.internal_id, m.running, "
    "m.is_breakout, m.create_time, m.created_at, b.host AS backend_host, "
    "b.secret AS backend_secret, b.checksum_algorithm AS backend_algorithm, "
    "b.admin_state::text AS backend_admin_state, "
    "CASE WHEN b.id IS NULL THEN NULL ELSE " + HEALTHY_SQL + " END AS backend_healthy "
    "FROM meetings m LEFT JOIN backends b ON b.id = m.backend_id "
)


async def select_meeting(db: Database | Session, meeting_id: str) -> MeetingRow | None:
    row = await db.fetch_one(_SELECT + "WHERE m.id = %s", (meeting_id,))
    return MeetingRow.from_row(row) if row else None


async def claim_meeting(db: Database | Session, meeting_id: str, frontend_id: UUID) -> None:
    """Bind an unbound meeting (found by a poll) to the frontend that first uses it."""
    await db.execute(
        "UPDATE meetings SET frontend_id = %s WHERE id = %s AND frontend_id IS NULL",
        (frontend_id, meeting_id),
    )


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """What ``b3scale_place_meeting`` answered."""

    meeting: MeetingRow
    #: True when this call placed the meeting (a failed create must undo it).
    placed: bool
    #: The meeting's voice bridge when b3scale chose or knows it (unique mode), else None.
    voice_bridge: str | None


class PlacementRefused(Exception):
    """A tenant policy refused the placement; ``reason`` is BBB's messageKey for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def place_meeting(
    db: Database,
    meeting_id: str,
    external_id: str,
    frontend_id: UUID,
    *,
    is_breakout: bool,
    required_tags: Sequence[str],
    exclude: Sequence[UUID],
    meetings_limit: int | None = None,
    unique_voice_bridge: bool = False,
    voice_bridge: str | None = None,
) -> PlaceResult | None:
    """The meeting's backend for a create, in one round trip (``b3scale_place_meeting``):
    its own if usable and not excluded, else the least loaded fitting one, where the meeting is
    recorded and counted at once under the cluster-wide placement lock. None when no backend is
    available; raises :class:`PlacementRefused` when the frontend's meetings limit is reached
    or (``unique_voice_bridge``) the requested voice bridge is taken. Both are decided under the
    lock, so racing creates on several instances cannot overshoot.

    The placement commits without waiting for its flush to disk (``synchronous_commit`` off
    for this transaction only): PostgreSQL releases the placement lock only after the commit,
    so a flush inside it would serialise every create in the cluster behind the disk (with a
    1 ms flush: 346 creates/s against 465, bench/run.py ``--pg commit_delay=1000``). Nothing
    is acknowledged on it alone: the create's next write (what the node answered) commits
    durably, which flushes the placement with it, and should the server crash in between, the
    node's meeting comes back with the next poll."""
    row = await db.fetch_one(
        "SELECT p.* FROM set_config('synchronous_commit', 'off', true) AS durable_later, "
        "b3scale_place_meeting(%s, %s, %s, %s, %s, %s::uuid[], %s, %s, %s, %s) AS p",
        (
            meeting_id,
            external_id,
            frontend_id,
            is_breakout,
            json.dumps(list(required_tags)),
            list(exclude),
            PLACEMENT_LOCK_KEY,
            meetings_limit,
            unique_voice_bridge,
            voice_bridge,
        ),
    )
    if row is None:
        return None
    refused = row.pop("refused")
    if refused:
        raise PlacementRefused(str(refused))
    placed = bool(row.pop("placed"))
    bridge = row.pop("voice_bridge")
    return PlaceResult(MeetingRow.from_row(row), placed, bridge if unique_voice_bridge else None)


async def delete_meeting(db: Database | Session, meeting_id: str) -> UUID | None:
    """Delete; returns the backend it was on (its load needs a refresh)."""
    row = await db.fetch_one(
        "DELETE FROM meetings WHERE id = %s RETURNING backend_id", (meeting_id,)
    )
    return row["backend_id"] if row else None


@dataclass(frozen=True, slots=True)
class MeetingState:
    """What a backend reported about a meeting (create, getMeetingInfo, getMeetings)."""

    internal_id: str | None
    name: str
    running: bool
    is_breakout: bool
    parent_id: str | None
    create_time: int | None
    attendees: int
    moderators: int
    voice_participants: int
    video: int
    listeners: int
    state: dict[str, Any]
    #: The <meeting> element as the frontend sees it.
    info_xml: str

    @property
    def voice_bridge(self) -> str | None:
        value = self.state.get("voiceBridge")
        return str(value) if value else None


def state_record(info: MeetingState) -> dict[str, Any]:
    """A report's columns as one JSON record of ``jsonb_to_recordset`` (the statements that
    write many meetings at once name these fields)."""
    return {
        "internal_id": info.internal_id,
        "name": info.name,
        "running": info.running,
        "is_breakout": info.is_breakout,
        "parent_id": info.parent_id,
        "create_time": info.create_time,
        "attendees": info.attendees,
        "moderators": info.moderators,
        "voice": info.voice_participants,
        "video": info.video,
        "listeners": info.listeners,
        "state": info.state,
        "info_xml": info.info_xml,
        "voice_bridge": info.voice_bridge,
    }


#: Meetings written by one statement of :func:`update_meeting_states`.
STATES_BATCH = 100


async def update_meeting_states(
    db: Database | Session, reports: Sequence[tuple[str, UUID, MeetingState]]
) -> None:
    """What backends reported about meetings they hold, as ``(meeting_id, backend_id,
    state)``, a batch per statement; a meeting that is gone or on another backend now is left
    alone, and of several reports of one meeting the last wins."""
    latest = {meeting_id: (backend_id, info) for meeting_id, backend_id, info in reports}
    batch = list(latest.items())
    for start in range(0, len(batch), STATES_BATCH):
        records = [
            {"id": meeting_id, "backend_id": str(backend_id), **state_record(info)}
            for meeting_id, (backend_id, info) in batch[start : start + STATES_BATCH]
        ]
        await db.execute(_UPDATE_STATES, (json.dumps(records),))


_UPDATE_STATES = (
    "UPDATE meetings m SET internal_id = r.internal_id, name = r.name, running = r.running, "
    "  is_breakout = r.is_breakout, parent_id = r.parent_id, create_time = r.create_time, "
    "  attendees_count = r.attendees, moderators_count = r.moderators, "
    "  voice_participants_count = r.voice, video_count = r.video, "
    "  listeners_count = r.listeners, state = r.state, info_xml = r.info_xml, "
    "  voice_bridge = coalesce(r.voice_bridge, m.voice_bridge), updated_at = now(), "
    "  synced_at = now() "
    "FROM jsonb_to_recordset(%s::jsonb) AS r(id text, backend_id uuid, internal_id text, "
    "  name text, running boolean, is_breakout boolean, parent_id text, create_time bigint, "
    "  attendees integer, moderators integer, voice integer, video integer, "
    "  listeners integer, state jsonb, info_xml text, voice_bridge text) "
    "WHERE m.id = r.id AND m.backend_id = r.backend_id"
)


@dataclass(frozen=True, slots=True)
class PolledMeeting:
    """A meeting as a poll found it: its IDs, its frontend's key (None: not ours), its state."""

    meeting_id: str
    external_id: str
    frontend_key: str | None
    info: MeetingState


#: Meetings written by one statement of :func:`upsert_polled_meetings` (bounds its size).
UPSERT_BATCH = 100


async def upsert_polled_meetings(
    tx: Database | Session, backend_id: UUID, meetings: Sequence[PolledMeeting]
) -> None:
    """Meetings seen by a poll: inserted if unknown, updated if on this backend, a batch per
    statement (a poll that found 1,000 changed meetings costs ten round trips, not 1,000).

    A row bound to another backend is left alone: a poll never moves a meeting.
    """
    latest = {m.meeting_id: m for m in meetings}  # one row may be written once per statement
    batch = list(latest.values())
    for start in range(0, len(batch), UPSERT_BATCH):
        records = [
            {
                "id": m.meeting_id,
                "external_id": m.external_id,
                "key": m.frontend_key,
                **state_record(m.info),
            }
            for m in batch[start : start + UPSERT_BATCH]
        ]
        await tx.execute(_UPSERT_POLLED, {"backend_id": backend_id, "records": json.dumps(records)})


_UPSERT_POLLED = (
    "INSERT INTO meetings (id, external_id, frontend_id, backend_id, internal_id, name, "
    "  running, is_breakout, parent_id, create_time, attendees_count, moderators_count, "
    "  voice_participants_count, video_count, listeners_count, state, info_xml, synced_at, "
    "  voice_bridge) "
    "SELECT r.id, r.external_id, f.id, %(backend_id)s, r.internal_id, r.name, r.running, "
    "  r.is_breakout, r.parent_id, r.create_time, r.attendees, r.moderators, r.voice, r.video, "
    "  r.listeners, r.state, r.info_xml, now(), r.voice_bridge "
    "FROM jsonb_to_recordset(%(records)s::jsonb) AS r(id text, external_id text, key text, "
    "  internal_id text, name text, running boolean, is_breakout boolean, parent_id text, "
    "  create_time bigint, attendees integer, moderators integer, voice integer, "
    "  video integer, listeners integer, state jsonb, info_xml text, voice_bridge text) "
    "LEFT JOIN frontends f ON f.key = r.key "
    "ON CONFLICT (id) DO UPDATE SET internal_id = EXCLUDED.internal_id, "
    "  name = EXCLUDED.name, running = EXCLUDED.running, "
    "  is_breakout = EXCLUDED.is_breakout, parent_id = EXCLUDED.parent_id, "
    "  create_time = EXCLUDED.create_time, attendees_count = EXCLUDED.attendees_count, "
    "  moderators_count = EXCLUDED.moderators_count, "
    "  voice_participants_count = EXCLUDED.voice_participants_count, "
    "  video_count = EXCLUDED.video_count, listeners_count = EXCLUDED.listeners_count, "
    "  state = EXCLUDED.state, info_xml = EXCLUDED.info_xml, synced_at = now(), "
    "  voice_bridge = coalesce(EXCLUDED.voice_bridge, meetings.voice_bridge), "
    "  updated_at = now(), backend_id = EXCLUDED.backend_id "
    "WHERE meetings.backend_id = EXCLUDED.backend_id OR meetings.backend_id IS NULL"
)


async def delete_vanished_meetings(
    tx: Session, backend_id: UUID, reported: Sequence[str], placed_before: datetime
) -> int:
    """Rows of a backend it no longer reports; meetings placed since the poll began stay."""
    return await tx.execute(
        "DELETE FROM meetings WHERE backend_id = %s AND NOT (id = ANY(%s)) AND created_at < %s",
        (backend_id, list(reported), placed_before),
    )


async def select_frontend_meeting_xml(db: Database | Session, frontend_id: UUID) -> str:
    """The frontend's stored ``<meeting>`` elements, oldest first, as one string ("" for
    none)."""
    elements = await db.fetch_column(
        "SELECT info_xml FROM meetings WHERE frontend_id = %s AND backend_id IS NOT NULL "
        "AND info_xml <> '' ORDER BY created_at, id",
        (frontend_id,),
    )
    return "".join(elements)


async def select_frontend_backends(db: Database | Session, frontend_id: UUID) -> list[Row]:
    """Backends that ever hosted the frontend's meetings (where its recordings live)."""
    return await db.fetch_all(
        "SELECT b.id, b.host, b.secret, b.checksum_algorithm FROM frontend_backends fb "
        "JOIN backends b ON b.id = fb.backend_id WHERE fb.frontend_id = %s ORDER BY b.host",
        (frontend_id,),
    )


async def has_hosted(db: Database | Session, frontend_id: UUID, backend_id: UUID) -> bool:
    """Whether the backend ever hosted a meeting of the frontend (placed there, or running
    there now): only then may its node import the frontend's recordings."""
    row = await db.fetch_one(
        "SELECT EXISTS (SELECT 1 FROM frontend_backends WHERE frontend_id = %s AND backend_id = %s)"
        " OR EXISTS (SELECT 1 FROM meetings WHERE frontend_id = %s AND backend_id = %s) AS hosted",
        (frontend_id, backend_id, frontend_id, backend_id),
    )
    return bool(row and row["hosted"])


async def select_meetings(
    db: Database | Session,
    *,
    backend_id: UUID | None = None,
    frontend_id: UUID | None = None,
    limit: int = 10000,
) -> list[Row]:
    """Meetings for the REST API, filtered by backend and/or frontend."""
    return await db.fetch_all(
        "SELECT id, external_id, internal_id, frontend_id, backend_id, name, running, "
        "is_breakout, parent_id, create_time, attendees_count, moderators_count, "
        "voice_participants_count, video_count, listeners_count, state, created_at, "
        "updated_at, synced_at FROM meetings "
        "WHERE (%(backend)s::uuid IS NULL OR backend_id = %(backend)s) "
        "AND (%(frontend)s::uuid IS NULL OR frontend_id = %(frontend)s) "
        "ORDER BY created_at, id LIMIT %(limit)s",
        {"backend": backend_id, "frontend": frontend_id, "limit": limit},
    )


async def select_meeting_row(db: Database | Session, meeting_id: str) -> Row | None:
    rows = await db.fetch_all(
        "SELECT id, external_id, internal_id, frontend_id, backend_id, name, running, "
        "is_breakout, parent_id, create_time, attendees_count, moderators_count, "
        "voice_participants_count, video_count, listeners_count, state, created_at, "
        "updated_at, synced_at FROM meetings WHERE id = %s",
        (meeting_id,),
    )
    return rows[0] if rows else None


async def delete_meetings_of_backend(db: Database | Session, backend_id: UUID) -> int:
    return await db.execute("DELETE FROM meetings WHERE backend_id = %s", (backend_id,))


async def select_frontend_load(db: Database | Session) -> list[Row]:
    """Per frontend: its meetings held by a backend, and their attendees (for /metrics)."""
    return await db.fetch_all(
        "SELECT f.key, count(m.id) AS meetings, coalesce(sum(m.attendees_count), 0) AS attendees "
        "FROM frontends f LEFT JOIN meetings m ON m.frontend_id = f.id "
        "AND m.backend_id IS NOT NULL GROUP BY f.key ORDER BY f.key"
    )


async def frontend_attendees(
    db: Database | Session, frontend_id: UUID, meeting_id: str
) -> tuple[int, str | None]:
    """The attendees in all the frontend's meetings, and one meeting's moderator password
    (for a limit that exempts moderators), in one query."""
    row = await db.fetch_one(
        "SELECT (SELECT coalesce(sum(attendees_count), 0) FROM meetings "
        "        WHERE frontend_id = %s) AS attendees, "
        "       (SELECT state ->> 'moderatorPW' FROM meetings WHERE id = %s) AS moderator_pw",
        (frontend_id, meeting_id),
    )
    assert row is not None
    return int(row["attendees"]), row["moderator_pw"]

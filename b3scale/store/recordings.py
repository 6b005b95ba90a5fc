"""The ``recordings`` table: recordings imported from the nodes, answered from here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from b3scale.store.db import Database, Row, Session

#: BBB's states a getRecordings without ``state`` lists.
DEFAULT_STATES = ("published", "unpublished")


@dataclass(frozen=True, slots=True)
class RecordingRow:
    record_id: str
    frontend_id: UUID
    meeting_id: str
    node_meeting_id: str
    name: str
    is_breakout: bool
    published: bool
    state: str
    protected: bool
    start_time: int
    end_time: int
    participants: int
    raw_size: int
    metadata: dict[str, str]
    formats: list[dict[str, Any]]
    text_tracks: list[dict[str, Any]] = field(default_factory=list)
    backend_host: str | None = None
    imported_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> RecordingRow:
        return cls(**row)


_COLUMNS = (
    "record_id, frontend_id, meeting_id, node_meeting_id, name, is_breakout, published, state, "
    "protected, start_time, end_time, participants, raw_size, metadata, formats, text_tracks, "
    "backend_host, imported_at, updated_at"
)


async def upsert_recording(
    db: Database | Session, recording: RecordingRow, *, same_node_only: bool = False
) -> RecordingRow:
    """Insert or replace an imported recording; formats are merged by type (a recording's
    formats may be pushed one at a time), and what the frontend changed since (published,
    protected, metadata) is kept. With ``same_node_only`` (a node's push) a recording already
    imported from another node (or by an admin) is left as it is.

    Raises PermissionError when the recording exists and may not be replaced."""
    row = await db.fetch_one(
        "INSERT INTO recordings (record_id, frontend_id, meeting_id, node_meeting_id, name, "
        "  is_breakout, published, state, protected, start_time, end_time, participants, "
        "  raw_size, metadata, formats, backend_host) "
        "VALUES (%(record_id)s, %(frontend_id)s, %(meeting_id)s, %(node_meeting_id)s, "
        "  %(name)s, %(is_breakout)s, %(published)s, %(state)s, %(protected)s, "
        "  %(start_time)s, %(end_time)s, %(participants)s, %(raw_size)s, %(metadata)s, "
        "  %(formats)s, %(backend_host)s) "
        "ON CONFLICT (record_id) DO UPDATE SET "
        "  formats = (SELECT coalesce(jsonb_agg(f), '[]') FROM ("
        "    SELECT f FROM jsonb_array_elements(recordings.formats) f "
        "     WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(EXCLUDED.formats) n "
        "                        WHERE n ->> 'type' = f ->> 'type') "
        "    UNION ALL SELECT n FROM jsonb_array_elements(EXCLUDED.formats) n) AS m(f)), "
        "  name = EXCLUDED.name, start_time = EXCLUDED.start_time, "
        "  end_time = EXCLUDED.end_time, participants = EXCLUDED.participants, "
        "  raw_size = EXCLUDED.raw_size, backend_host = EXCLUDED.backend_host, "
        "  updated_at = now() "
        "WHERE recordings.frontend_id = EXCLUDED.frontend_id "
        "  AND (NOT %(same_node_only)s "
        "       OR recordings.backend_host IS NOT DISTINCT FROM EXCLUDED.backend_host) "
        "RETURNING " + _COLUMNS,
        {
            "record_id": recording.record_id,
            "frontend_id": recording.frontend_id,
            "meeting_id": recording.meeting_id,
            "node_meeting_id": recording.node_meeting_id,
            "name": recording.name,
            "is_breakout": recording.is_breakout,
            "published": recording.published,
            "state": recording.state,
            "protected": recording.protected,
            "start_time": recording.start_time,
            "end_time": recording.end_time,
            "participants": recording.participants,
            "raw_size": recording.raw_size,
            "metadata": json.dumps(recording.metadata),
            "formats": json.dumps(recording.formats),
            "backend_host": recording.backend_host,
            "same_node_only": same_node_only,
        },
    )
    if row is None:
        raise PermissionError("the recording belongs to another frontend or another node")
    return RecordingRow.from_row(row)


async def select_recordings(
    db: Database | Session,
    frontend_id: UUID,
    *,
    meeting_ids: Sequence[str] = (),
    record_ids: Sequence[str] = (),
    states: Sequence[str] | None = DEFAULT_STATES,
    metadata: dict[str, str] | None = None,
) -> list[RecordingRow]:
    """The frontend's recordings, by meetingID (as the node saw it) or recordID (a recordID
    list wins, as in BBB; a record ID may be a prefix), in the given states (None: any), with
    matching metadata."""
    conditions = ["frontend_id = %(frontend)s"]
    params: dict[str, Any] = {"frontend": frontend_id}
    if record_ids:
        conditions.append(
            "(record_id = ANY(%(records)s) OR EXISTS (SELECT 1 FROM unnest(%(records)s) p "
            "WHERE length(p) >= 10 AND starts_with(record_id, p)))"
        )
        params["records"] = list(record_ids)
    elif meeting_ids:
        conditions.append("node_meeting_id = ANY(%(meetings)s)")
        params["meetings"] = list(meeting_ids)
    if states is not None:
        conditions.append("state = ANY(%(states)s)")
        params["states"] = list(states)
    if metadata:
        conditions.append("metadata @> %(metadata)s")
        params["metadata"] = json.dumps(metadata)
    rows = await db.fetch_all(
        "SELECT " + _COLUMNS + " FROM recordings WHERE " + " AND ".join(conditions) + " "
        "ORDER BY start_time, record_id",
        params,
    )
    return [RecordingRow.from_row(r) for r in rows]


async def set_published(
    db: Database | Session, frontend_id: UUID, record_ids: Sequence[str], published: bool
) -> int:
    return await db.execute(
        "UPDATE recordings SET published = %s, "
        "state = CASE WHEN %s THEN 'published' ELSE 'unpublished' END, updated_at = now() "
        "WHERE frontend_id = %s AND record_id = ANY(%s) AND state <> 'deleted'",
        (published, published, frontend_id, list(record_ids)),
    )


async def update_metadata(
    db: Database | Session,
    frontend_id: UUID,
    record_ids: Sequence[str],
    changes: dict[str, str],
    protected: bool | None,
) -> int:
    """``meta_*`` of updateRecordings: a value sets, an empty value removes (as BBB does)."""
    setting = {k: v for k, v in changes.items() if v != ""}
    removing = [k for k, v in changes.items() if v == ""]
    return await db.execute(
        "UPDATE recordings SET metadata = (metadata - %s::text[]) || %s::jsonb, "
        "protected = coalesce(%s, protected), updated_at = now() "
        "WHERE frontend_id = %s AND record_id = ANY(%s)",
        (removing, json.dumps(setting), protected, frontend_id, list(record_ids)),
    )


async def delete_recordings(
    db: Database | Session, frontend_id: UUID, record_ids: Sequence[str]
) -> list[str]:
    """Deleted rows' record IDs (their files are removed by the caller)."""
    rows = await db.fetch_all(
        "DELETE FROM recordings WHERE frontend_id = %s AND record_id = ANY(%s) RETURNING record_id",
        (frontend_id, list(record_ids)),
    )
    return [str(r["record_id"]) for r in rows]


async def claim_upload(db: Database | Session, record_id: str, backend_host: str) -> str:
    """The node pushing the recording's files: ``backend_host`` if it is the first, else the
    one that was."""
    owner = await db.fetch_value(
        "WITH claimed AS (INSERT INTO recording_uploads (record_id, backend_host) "
        "  VALUES (%(record)s, %(host)s) ON CONFLICT (record_id) DO NOTHING "
        "  RETURNING backend_host) "
        "SELECT backend_host FROM claimed "
        "UNION ALL SELECT backend_host FROM recording_uploads WHERE record_id = %(record)s "
        "LIMIT 1",
        {"record": record_id, "host": backend_host},
    )
    return str(owner)


async def upload_owner(db: Database | Session, record_id: str) -> str | None:
    """The node that started pushing the recording's files (None: no node did)."""
    owner = await db.fetch_value(
        "SELECT backend_host FROM recording_uploads WHERE record_id = %s", (record_id,)
    )
    return str(owner) if owner is not None else None


async def select_recording(db: Database | Session, record_id: str) -> RecordingRow | None:
    row = await db.fetch_one(
        "SELECT " + _COLUMNS + " FROM recordings WHERE record_id = %s", (record_id,)
    )
    return RecordingRow.from_row(row) if row else None


async def set_text_tracks(
    db: Database | Session, frontend_id: UUID, record_id: str, tracks: list[dict[str, str]]
) -> None:
    await db.execute(
        "UPDATE recordings SET text_tracks = %s, updated_at = now() "
        "WHERE frontend_id = %s AND record_id = %s",
        (json.dumps(tracks), frontend_id, record_id),
    )

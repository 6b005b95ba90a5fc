"""A backend's getMeetings answer into the meetings table (polls and the node agent)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from b3scale.bbb import parse
from b3scale.cluster import meeting_ids
from b3scale.cluster.meeting_state import split_meetings, state_from_info
from b3scale.cluster.middlewares.rewrite_meeting_id import decode_body
from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.db import Database

#: A meeting placed this recently may not be on its backend yet: a sync does not remove it.
PLACEMENT_GRACE = timedelta(seconds=60)


async def sync_backend_meetings(
    db: Database, backend_id: UUID, body: bytes, started_at: datetime
) -> int:
    """Upsert every reported meeting, drop the ones the backend no longer has, refresh the
    load; returns how many were dropped. ``started_at``: when the getMeetings call began."""
    reported: list[str] = []
    async with db.transaction() as tx:
        for chunk in split_meetings(body):
            try:
                info = parse.meeting(chunk)
            except parse.ResponseError:
                continue
            meeting_id = info.meeting_id
            decoded = meeting_ids.decode(meeting_id)
            key, external = decoded if decoded else (None, meeting_id)
            visible = decode_body(chunk, key) if key else chunk
            state = state_from_info(info, visible.decode("utf-8", "replace"))
            await meeting_store.upsert_polled_meeting(
                tx, meeting_id, external, key, backend_id, state
            )
            reported.append(meeting_id)
        removed = await meeting_store.delete_vanished_meetings(
            tx, backend_id, reported, started_at - PLACEMENT_GRACE
        )
        await backend_store.refresh_load(tx, backend_id)
    return removed

"""A backend's getMeetings answer into the meetings table (polls and the node agent)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import datetime, timedelta
from uuid import UUID
from xml.sax.saxutils import unescape

from b3scale.bbb import parse
from b3scale.cluster import meeting_ids
from b3scale.cluster.meeting_state import split_meetings, state_from_info
from b3scale.cluster.middlewares.rewrite_meeting_id import decode_body
from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.db import Database

#: Meetings parsed between two yields to the event loop.
YIELD_EVERY = 25
#: A meeting placed this recently may not be on its backend yet: a sync does not remove it.
PLACEMENT_GRACE = timedelta(seconds=60)


#: The element that names a <meeting> (its first meetingID; breakouts name their parent in
#: parentMeetingID, a different element).
_MEETING_ID = re.compile(rb"<meetingID>([^<]*)</meetingID>")

#: What a backend's meetings looked like at its last poll: meetingID -> digest of its element.
Seen = dict[str, bytes]


def _digest(chunk: bytes) -> bytes:
    return hashlib.blake2b(chunk, digest_size=16).digest()


async def sync_backend_meetings(
    db: Database,
    backend_id: UUID,
    body: bytes,
    started_at: datetime,
    seen: Seen | None = None,
) -> int:
    """Upsert the reported meetings, drop the ones the backend no longer has, refresh the load;
    returns how many were dropped. ``started_at``: when the getMeetings call began.

    With ``seen`` (the digests of the previous poll, updated in place), a meeting whose element
    is byte for byte what it was costs a hash: it is neither parsed nor written.
    """
    reported: list[str] = []
    current: Seen = {}
    changed: list[meeting_store.PolledMeeting] = []
    parsed = 0
    for chunk in split_meetings(body):
        found = _MEETING_ID.search(chunk)
        digest = _digest(chunk)
        if found is not None and seen is not None:
            meeting_id = unescape(found[1].decode("utf-8", "replace"))
            if seen.get(meeting_id) == digest:
                reported.append(meeting_id)
                current[meeting_id] = digest
                continue
        parsed += 1
        if parsed % YIELD_EVERY == 0:
            # A node with 1,000 changed meetings must not stall every other request.
            await asyncio.sleep(0)
        try:
            info = parse.meeting(chunk)
        except parse.ResponseError:
            continue
        meeting_id = info.meeting_id
        decoded = meeting_ids.decode(meeting_id)
        key, external = decoded if decoded else (None, meeting_id)
        visible = decode_body(chunk, key) if key else chunk
        state = state_from_info(info, visible.decode("utf-8", "replace"))
        changed.append(meeting_store.PolledMeeting(meeting_id, external, key, state))
        reported.append(meeting_id)
        current[meeting_id] = digest
        if len(changed) >= meeting_store.UPSERT_BATCH:
            # Written as it is parsed (memory stays bounded), each batch on its own: a write
            # is idempotent, and what was removed is decided once all are written.
            await meeting_store.upsert_polled_meetings(db, backend_id, changed)
            changed = []
    async with db.transaction() as tx:
        if changed:
            await meeting_store.upsert_polled_meetings(tx, backend_id, changed)
        removed = await meeting_store.delete_vanished_meetings(
            tx, backend_id, reported, started_at - PLACEMENT_GRACE
        )
        await backend_store.refresh_load(tx, backend_id)
    if seen is not None:
        seen.clear()
        seen.update(current)
    return removed

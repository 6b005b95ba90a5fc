"""Placing meetings on backends, and finding where a meeting lives.

A placement runs in one short transaction under a cluster-wide advisory lock: read the
candidates, pick one, insert the meeting row and refresh that backend's load. The next
placement, on any instance, therefore sees the new meeting, so a burst of creates spreads
out, and two creates of one new meetingID end on the same backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from b3scale.bbb.responses import BBBError
from b3scale.cluster.routing import route
from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.db import Database
from b3scale.store.frontends import Frontend
from b3scale.store.meetings import MeetingRow

log = logging.getLogger(__name__)

NO_BACKEND = BBBError(
    "noBackendAvailable",
    "No BigBlueButton server is available for this meeting right now. Please try again later.",
)


@dataclass(frozen=True, slots=True)
class Placement:
    meeting: MeetingRow
    #: True when this call placed the meeting (a failed create must undo it).
    new: bool


def usable(meeting: MeetingRow) -> bool:
    """Send a repeated create to the meeting's backend? Not if it is gone or sick, nor if it
    was disabled and the meeting does not run there."""
    if meeting.backend_id is None or not meeting.backend_healthy:
        return False
    return meeting.backend_admin_state == "ready" or meeting.running


async def place(
    db: Database,
    frontend: Frontend,
    meeting_id: str,
    external_id: str,
    *,
    is_breakout: bool = False,
    known: MeetingRow | None = None,
    exclude: frozenset[UUID] = frozenset(),
) -> Placement:
    """The backend for a create: the meeting's own if usable, else the least loaded one."""
    if known is not None and usable(known):
        return Placement(known, new=False)
    async with db.transaction() as tx:
        await meeting_store.lock_placements(tx)
        existing = await meeting_store.select_meeting(tx, meeting_id)
        if existing is not None and usable(existing) and existing.backend_id not in exclude:
            return Placement(existing, new=False)  # placed meanwhile by a concurrent create
        if existing is not None:
            log.info("placing meeting anew", extra={"backend_id": str(existing.backend_id)})
            await meeting_store.delete_meeting(tx, meeting_id)
            if existing.backend_id is not None:
                await backend_store.refresh_load(tx, existing.backend_id)
        candidates = [
            b for b in await backend_store.select_placeable_backends(tx) if b.id not in exclude
        ]
        ordered = route(candidates, frontend)
        if not ordered:
            raise NO_BACKEND
        chosen = ordered[0]
        placed = await meeting_store.insert_placed_meeting(
            tx, meeting_id, external_id, frontend.id, chosen.id, is_breakout=is_breakout
        )
    log.info("placed meeting", extra={"backend": chosen.host, "frontend": frontend.key})
    return Placement(placed, new=True)


async def unplace(db: Database, meeting: MeetingRow) -> None:
    """Undo a placement whose create failed."""
    async with db.transaction() as tx:
        backend_id = await meeting_store.delete_meeting(tx, meeting.id)
        if backend_id is not None:
            await backend_store.refresh_load(tx, backend_id)

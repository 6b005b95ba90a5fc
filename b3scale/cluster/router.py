"""Placing meetings on backends, and finding where a meeting lives.

A placement is one call of the database function ``b3scale_place_meeting``, which takes a
cluster-wide advisory lock, picks the least loaded fitting backend, inserts the meeting row and
counts it there, all inside the server. The next placement, on any instance, therefore sees
the new meeting, so a burst of creates spreads out, and two creates of one new meetingID end
on the same backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from b3scale.bbb.responses import BBBError
from b3scale.logs import write_line
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


#: What a tenant policy's refusal says to the frontend, by the placement's reason.
REFUSALS = {
    "meetingsLimitReached": "This frontend has reached its limit of meetings.",
    "voiceBridgeInUse": "The voiceBridge is in use by another meeting on this cluster.",
}


@dataclass(frozen=True, slots=True)
class Placement:
    meeting: MeetingRow
    #: True when this call placed the meeting (a failed create must undo it).
    new: bool
    #: The voice bridge b3scale chose or knows for the meeting (unique voice bridges).
    voice_bridge: str | None = None


#: A meetingID another frontend holds (one a poll found and that frontend claimed): what BBB
#: says of a meeting that does not exist, for every call (create's placement and the others).
FOREIGN_MEETING = BBBError("notFound", "A meeting with that ID does not exist")


async def place(
    db: Database,
    frontend: Frontend,
    meeting_id: str,
    external_id: str,
    *,
    is_breakout: bool = False,
    exclude: frozenset[UUID] = frozenset(),
    unique_voice_bridge: bool = False,
    voice_bridge: str | None = None,
) -> Placement:
    """The backend for a create: the meeting's own if usable (a repeated create), else the
    least loaded one. One round trip; the placement lock is taken only for the latter.

    A new meeting must fit the frontend's ``meetings_limit`` and, with ``unique_voice_bridge``,
    gets a voice bridge no other meeting uses (``voice_bridge`` if free): both raise BBBError
    otherwise. A known meeting's repeated create is answered by its node as BBB does.
    """
    try:
        result = await meeting_store.place_meeting(
            db,
            meeting_id,
            external_id,
            frontend.id,
            is_breakout=is_breakout,
            required_tags=[t for t in frontend.required_tags if t],  # an empty tag always fits
            exclude=list(exclude),
            meetings_limit=frontend.meetings_limit,
            unique_voice_bridge=unique_voice_bridge,
            voice_bridge=voice_bridge,
        )
    except meeting_store.PlacementRefused as refusal:
        if refusal.reason == "foreignMeeting":
            raise FOREIGN_MEETING from None
        raise BBBError(refusal.reason, REFUSALS.get(refusal.reason)) from None
    if result is None:
        raise NO_BACKEND
    if result.placed:
        # One per new meeting: batched with the access lines, not a write of its own.
        write_line(
            logging.INFO,
            log.name,
            "placed meeting",
            {
                "meeting": external_id,
                "frontend": frontend.key,
                "backend": result.meeting.backend_host,
            },
            batched=True,
        )
    return Placement(result.meeting, new=result.placed, voice_bridge=result.voice_bridge)


async def unplace(db: Database, meeting: MeetingRow) -> None:
    """Undo a placement whose create failed."""
    async with db.transaction() as tx:
        backend_id = await meeting_store.delete_meeting(tx, meeting.id)
        if backend_id is not None:
            await backend_store.refresh_load(tx, backend_id)

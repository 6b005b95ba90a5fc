"""What a node's event does to the cluster's state; the same in both of the agent's modes
(written by ``noded`` itself, or by ``serve`` for an agent that reports through the API)."""

from __future__ import annotations

from uuid import UUID

from b3scale.agent.events import (
    Event,
    MeetingCreated,
    MeetingDestroyed,
    MeetingEnded,
    UserJoined,
    UserLeft,
)
from b3scale.cluster import meeting_ids
from b3scale.store import node_events
from b3scale.store.db import Database


async def apply_event(db: Database, backend_id: UUID, event: Event) -> bool:
    """Apply ``event`` to ``backend_id``'s meetings; False for a join to a meeting not known
    (yet: BBB may announce it before the gateway stored the create; else a resync is due).
    Idempotent: applied twice, an event changes nothing more."""
    match event:
        case MeetingCreated():
            decoded = meeting_ids.decode(event.meeting_id)
            key, external = decoded if decoded else (None, event.meeting_id)
            await node_events.meeting_created(
                db,
                backend_id,
                meeting_id=event.meeting_id,
                external_id=external,
                frontend_key=key,
                internal_id=event.internal_id,
                name=event.name,
                is_breakout=event.is_breakout,
                parent_id=event.parent_id,
                create_time=event.create_time,
            )
        case UserJoined():
            joined = await node_events.add_attendee(
                db,
                backend_id,
                event.internal_id,
                internal_user_id=event.internal_user_id,
                user_id=event.user_id,
                full_name=event.full_name,
                role=event.role,
                client_type=event.client_type,
            )
            return joined is not None
        case UserLeft():
            await node_events.remove_attendee(
                db, backend_id, event.internal_id, event.internal_user_id
            )
        case MeetingEnded():
            await node_events.meeting_ended(db, backend_id, event.internal_id)
        case MeetingDestroyed():
            await node_events.meeting_destroyed(db, backend_id, event.internal_id)
    return True

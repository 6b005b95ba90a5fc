"""What a node agent's events do to the database: small atomic statements per event.

Every statement is limited to the agent's own backend (b3scale's are not). Joins and leaves
change the counters by one in the same transaction as the attendee row, so two users joining
at once are both counted and a repeated join is counted once.
"""

from __future__ import annotations

from uuid import UUID

from b3scale.store import backends as backend_store
from b3scale.store.db import Database, Session


async def heartbeat(db: Database | Session, backend_id: UUID) -> bool:
    """False when the backend row is gone (deleted by an operator)."""
    return (
        await db.execute("UPDATE backends SET agent_heartbeat = now() WHERE id = %s", (backend_id,))
        > 0
    )


async def sign_off(db: Database | Session, backend_id: UUID) -> None:
    """A clean stop of the agent: the backend goes back to being judged by polls alone."""
    await db.execute("UPDATE backends SET agent_heartbeat = NULL WHERE id = %s", (backend_id,))


async def add_attendee(
    db: Database,
    backend_id: UUID,
    internal_id: str,
    *,
    internal_user_id: str,
    user_id: str,
    full_name: str,
    role: str,
    client_type: str,
) -> bool | None:
    """True: counted; False: already there; None: the meeting is not known (yet)."""
    async with db.transaction() as tx:
        meeting = await _lock_meeting(tx, backend_id, internal_id)
        if meeting is None:
            return None
        inserted = await tx.execute(
            "INSERT INTO attendees (meeting_id, internal_user_id, user_id, full_name, role, "
            "client_type) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (meeting, internal_user_id, user_id, full_name, role, client_type),
        )
        if inserted:
            await tx.execute(
                "UPDATE meetings SET attendees_count = attendees_count + 1, "
                "moderators_count = moderators_count + %s, running = true, updated_at = now() "
                "WHERE id = %s",
                (1 if role.upper() == "MODERATOR" else 0, meeting),
            )
            await backend_store.refresh_load(tx, backend_id)
    return bool(inserted)


async def remove_attendee(
    db: Database, backend_id: UUID, internal_id: str, internal_user_id: str
) -> bool:
    async with db.transaction() as tx:
        meeting = await _lock_meeting(tx, backend_id, internal_id)
        if meeting is None:
            return False
        row = await tx.fetch_one(
            "DELETE FROM attendees WHERE meeting_id = %s AND internal_user_id = %s RETURNING role",
            (meeting, internal_user_id),
        )
        if row is None:
            return False
        await tx.execute(
            "UPDATE meetings SET attendees_count = greatest(attendees_count - 1, 0), "
            "moderators_count = greatest(moderators_count - %s, 0), updated_at = now() "
            "WHERE id = %s",
            (1 if row["role"].upper() == "MODERATOR" else 0, meeting),
        )
        await backend_store.refresh_load(tx, backend_id)
    return True


async def meeting_ended(db: Database, backend_id: UUID, internal_id: str) -> bool:
    async with db.transaction() as tx:
        meeting = await _lock_meeting(tx, backend_id, internal_id)
        if meeting is None:
            return False
        await tx.execute("DELETE FROM attendees WHERE meeting_id = %s", (meeting,))
        await tx.execute(
            "UPDATE meetings SET running = false, attendees_count = 0, moderators_count = 0, "
            "voice_participants_count = 0, video_count = 0, listeners_count = 0, "
            "updated_at = now() WHERE id = %s",
            (meeting,),
        )
        await backend_store.refresh_load(tx, backend_id)
    return True


async def meeting_destroyed(db: Database, backend_id: UUID, internal_id: str) -> bool:
    async with db.transaction() as tx:
        count = await tx.execute(
            "DELETE FROM meetings WHERE internal_id = %s AND backend_id = %s",
            (internal_id, backend_id),
        )
        if count:
            await backend_store.refresh_load(tx, backend_id)
    return count > 0


async def _lock_meeting(tx: Session, backend_id: UUID, internal_id: str) -> str | None:
    row = await tx.fetch_one(
        "SELECT id FROM meetings WHERE internal_id = %s AND backend_id = %s FOR UPDATE",
        (internal_id, backend_id),
    )
    return str(row["id"]) if row else None


async def update_agent_fields(
    db: Database | Session, backend_id: UUID, secret: str, load_factor: float
) -> bool:
    """What the agent owns of its row; nothing an operator may have changed meanwhile."""
    row = await db.fetch_one(
        "UPDATE backends b SET secret = %s, load_factor = %s, updated_at = now() "
        "FROM (SELECT secret AS old_secret FROM backends WHERE id = %s) o "
        "WHERE b.id = %s RETURNING o.old_secret <> b.secret AS changed",
        (secret, load_factor, backend_id, backend_id),
    )
    return bool(row and row["changed"])


async def meeting_created(
    db: Database,
    backend_id: UUID,
    *,
    meeting_id: str,
    external_id: str,
    frontend_key: str | None,
    internal_id: str,
    name: str,
    is_breakout: bool,
    parent_id: str | None,
    create_time: int | None,
) -> bool:
    """Record a meeting BBB announced: it may be newer than the create answer the gateway
    stores (so it is inserted), or placed already (so only BBB's ids are filled in)."""
    async with db.transaction() as tx:
        count = await tx.execute(
            "INSERT INTO meetings (id, external_id, frontend_id, backend_id, internal_id, name, "
            "  is_breakout, parent_id, create_time) "
            "VALUES (%(id)s, %(external)s, (SELECT id FROM frontends WHERE key = %(key)s), "
            "  %(backend)s, %(internal)s, %(name)s, %(breakout)s, %(parent)s, %(created)s) "
            "ON CONFLICT (id) DO UPDATE SET internal_id = EXCLUDED.internal_id, "
            "  create_time = EXCLUDED.create_time, is_breakout = EXCLUDED.is_breakout, "
            "  name = CASE WHEN meetings.name = '' THEN EXCLUDED.name ELSE meetings.name END, "
            "  updated_at = now() "
            "WHERE meetings.backend_id = EXCLUDED.backend_id",
            {
                "id": meeting_id,
                "external": external_id,
                "key": frontend_key,
                "backend": backend_id,
                "internal": internal_id,
                "name": name,
                "breakout": is_breakout,
                "parent": parent_id,
                "created": create_time,
            },
        )
        if count:
            await backend_store.refresh_load(tx, backend_id)
    return count > 0

"""JSON shapes of the REST API resources (b3scale's, meetings in snake_case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from b3scale.store.backends import Backend
from b3scale.store.commands import Command
from b3scale.store.db import Row
from b3scale.store.frontends import Frontend


def time_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def frontend_json(f: Frontend) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "active": f.active,
        "bbb": {"key": f.key, "secret": f.secret, "secrets": list(f.accepted_secrets)},
        "settings": f.settings,
        "account_ref": f.account_ref,
        "created_at": time_or_none(f.created_at),
        "updated_at": time_or_none(f.updated_at),
    }


def backend_json(b: Backend) -> dict[str, Any]:
    return {
        "id": str(b.id),
        "node_state": b.node_state,
        "admin_state": b.admin_state,
        "healthy": bool(b.healthy),
        "agent_heartbeat": time_or_none(b.agent_heartbeat),
        "agent_ref": b.agent_ref,
        "last_error": b.last_error,
        "latency": b.latency,
        "meetings_count": b.meetings_count,
        "breakouts_count": b.breakouts_count,
        "attendees_count": b.attendees_count,
        "load_factor": b.load_factor,
        "checksum_algorithm": b.checksum_algorithm,
        "bbb": {"host": b.host, "secret": b.secret},
        "settings": b.settings,
        "created_at": time_or_none(b.created_at),
        "updated_at": time_or_none(b.updated_at),
        "synced_at": time_or_none(b.synced_at),
    }


def meeting_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "meeting_id": row["external_id"],
        "internal_id": row["internal_id"],
        "frontend_id": str(row["frontend_id"]) if row["frontend_id"] else None,
        "backend_id": str(row["backend_id"]) if row["backend_id"] else None,
        "name": row["name"],
        "running": row["running"],
        "is_breakout": row["is_breakout"],
        "parent_id": row["parent_id"],
        "create_time": row["create_time"],
        "attendees_count": row["attendees_count"],
        "moderators_count": row["moderators_count"],
        "voice_participants_count": row["voice_participants_count"],
        "video_count": row["video_count"],
        "listeners_count": row["listeners_count"],
        "meeting": row["state"],
        "created_at": time_or_none(row["created_at"]),
        "updated_at": time_or_none(row["updated_at"]),
        "synced_at": time_or_none(row["synced_at"]),
    }


def command_json(c: Command) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "seq": c.seq,
        "state": c.state,
        "action": c.action,
        "params": c.params,
        "result": c.result,
        "deadline": time_or_none(c.deadline),
        "started_at": time_or_none(c.started_at),
        "stopped_at": time_or_none(c.stopped_at),
        "created_at": time_or_none(c.created_at),
    }

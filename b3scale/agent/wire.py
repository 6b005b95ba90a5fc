"""Node events as JSON, between ``b3scale noded`` (API mode) and ``/api/v1/agent/events``.

One schema per event kind (published in the OpenAPI document and enforced on the server), and
the two conversions. The field names are the dataclasses' own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from b3scale.agent.events import (
    Event,
    MeetingCreated,
    MeetingDestroyed,
    MeetingEnded,
    UserJoined,
    UserLeft,
)

#: Every identifier BBB sends is far shorter; names are free text.
_ID = {"type": "string", "minLength": 1, "maxLength": 256}
_TEXT = {"type": "string", "maxLength": 1024}

KINDS: dict[str, type[Event]] = {
    "meeting_created": MeetingCreated,
    "meeting_ended": MeetingEnded,
    "meeting_destroyed": MeetingDestroyed,
    "user_joined": UserJoined,
    "user_left": UserLeft,
}
_KIND_OF = {cls: kind for kind, cls in KINDS.items()}

_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "meeting_id": _ID,
    "internal_id": _ID,
    "internal_user_id": _ID,
    "user_id": _TEXT,
    "name": _TEXT,
    "full_name": _TEXT,
    "role": {"type": "string", "maxLength": 32},
    "client_type": {"type": "string", "maxLength": 32},
    "is_breakout": {"type": "boolean"},
    "parent_id": {**_ID, "nullable": True},
    "create_time": {"type": "integer", "minimum": 0, "nullable": True},
}


def _schema(kind: str, cls: type[Any]) -> dict[str, Any]:
    fields = [f.name for f in dataclasses.fields(cls)]
    return {
        "type": "object",
        "required": ["event", *fields],
        "properties": {
            "event": {"type": "string", "enum": [kind]},
            **{name: _FIELD_SCHEMAS[name] for name in fields},
        },
        "additionalProperties": False,
    }


#: The schema of each event kind, by the value of its ``event`` field.
EVENT_SCHEMAS: dict[str, dict[str, Any]] = {kind: _schema(kind, cls) for kind, cls in KINDS.items()}


def event_to_json(event: Event) -> dict[str, Any]:
    return {"event": _KIND_OF[type(event)], **dataclasses.asdict(event)}


def event_from_json(data: dict[str, Any]) -> Event:
    """An event from JSON that passed its kind's schema."""
    cls = KINDS[data["event"]]
    return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})

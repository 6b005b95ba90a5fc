"""BBB's Redis messages, read into the few events the agent acts on.

:func:`parse_event` never raises: malformed JSON, unknown message names and missing fields
give None, so a strange message can never stop the agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MeetingCreated:
    meeting_id: str
    internal_id: str
    name: str
    is_breakout: bool
    parent_id: str | None
    create_time: int | None


@dataclass(frozen=True, slots=True)
class MeetingEnded:
    internal_id: str


@dataclass(frozen=True, slots=True)
class MeetingDestroyed:
    internal_id: str


@dataclass(frozen=True, slots=True)
class UserJoined:
    internal_id: str
    internal_user_id: str
    user_id: str
    full_name: str
    role: str
    client_type: str


@dataclass(frozen=True, slots=True)
class UserLeft:
    internal_id: str
    internal_user_id: str


Event = MeetingCreated | MeetingEnded | MeetingDestroyed | UserJoined | UserLeft


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_event(raw: str | bytes) -> Event | None:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    name = _dig(message, "envelope", "name")
    body = _dig(message, "core", "body")
    header = _dig(message, "core", "header")
    if not isinstance(body, dict):
        return None
    try:
        return _PARSERS[name](body, header if isinstance(header, dict) else {})
    except (KeyError, TypeError):
        return None


def _created(body: dict[str, Any], header: dict[str, Any]) -> Event | None:
    props = body["props"]
    meeting = props["meetingProp"]
    ext, internal = _text(meeting.get("extId")), _text(meeting.get("intId"))
    if ext is None or internal is None:
        return None
    parent = _text(_dig(props, "breakoutProps", "parentId"))
    created = _dig(props, "durationProps", "createdTime")
    return MeetingCreated(
        meeting_id=ext,
        internal_id=internal,
        name=_text(meeting.get("name")) or "",
        is_breakout=meeting.get("isBreakout") is True,
        parent_id=parent if parent and parent != "bbb-none" else None,
        create_time=created if isinstance(created, int) else None,
    )


def _ended(body: dict[str, Any], header: dict[str, Any]) -> Event | None:
    internal = _text(body.get("meetingId"))
    return MeetingEnded(internal) if internal else None


def _destroyed(body: dict[str, Any], header: dict[str, Any]) -> Event | None:
    internal = _text(body.get("meetingId"))
    return MeetingDestroyed(internal) if internal else None


def _joined(body: dict[str, Any], header: dict[str, Any]) -> Event | None:
    meeting, user = _text(header.get("meetingId")), _text(body.get("intId"))
    if meeting is None or user is None:
        return None
    return UserJoined(
        internal_id=meeting,
        internal_user_id=user,
        user_id=_text(body.get("extId")) or user,
        full_name=_text(body.get("name")) or "",
        role=(_text(body.get("role")) or "VIEWER").upper(),
        client_type=_text(body.get("clientType")) or "",
    )


def _left(body: dict[str, Any], header: dict[str, Any]) -> Event | None:
    meeting = _text(header.get("meetingId"))
    user = _text(body.get("intId")) or _text(header.get("userId"))
    return UserLeft(meeting, user) if meeting and user else None


_PARSERS = {
    "MeetingCreatedEvtMsg": _created,
    "MeetingEndedEvtMsg": _ended,
    "MeetingDestroyedEvtMsg": _destroyed,
    "UserJoinedMeetingEvtMsg": _joined,
    "UserLeftMeetingEvtMsg": _left,
}

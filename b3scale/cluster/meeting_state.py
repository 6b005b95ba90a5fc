"""From a backend's XML to what the meetings table keeps (counts, fields, <meeting> element).

getMeetings is answered from the stored ``<meeting>`` elements, cut from the backend's own
getMeetings or getMeetingInfo answers, so they keep every element BBB wrote.
"""

from __future__ import annotations

import re

from b3scale.bbb import parse
from b3scale.bbb.request import Request
from b3scale.bbb.responses import Node, element, java_date
from b3scale.store.meetings import MeetingState

_MEETING = re.compile(rb"<meeting>.*?</meeting>", re.DOTALL)
_RESPONSE_INNER = re.compile(rb"<response>(.*)</response>", re.DOTALL)
_STATUS_ELEMENTS = re.compile(
    rb"<returncode>[^<]*</returncode>|<messageKey>[^<]*</messageKey>|<message>[^<]*</message>"
    rb"|<messageKey/>|<message/>"
)


def split_meetings(body: bytes) -> list[bytes]:
    """The ``<meeting>`` elements of a getMeetings answer, byte for byte."""
    return _MEETING.findall(body)


def meeting_element_from_info(body: bytes) -> bytes:
    """A getMeetingInfo answer as a ``<meeting>`` element (without the status elements)."""
    match = _RESPONSE_INNER.search(body)
    inner = match[1] if match else b""
    return b"<meeting>" + _STATUS_ELEMENTS.sub(b"", inner) + b"</meeting>"


def state_from_info(info: parse.MeetingInfo, info_xml: str) -> MeetingState:
    return MeetingState(
        internal_id=info.internal_id or None,
        name=info.name,
        running=info.running,
        is_breakout=info.is_breakout,
        parent_id=info.parent_meeting_id,
        create_time=info.create_time or None,
        attendees=info.count("participantCount") or len(info.attendees),
        moderators=info.count("moderatorCount"),
        voice_participants=info.count("voiceParticipantCount"),
        video=info.count("videoCount"),
        listeners=info.count("listenerCount"),
        state=dict(info.fields),
        info_xml=info_xml,
    )


def meeting_element_from_create(
    request: Request, external_id: str, created: parse.MeetingInfo
) -> bytes:
    """A ``<meeting>`` for a meeting just created, until a poll brings the backend's own.

    Element order as bbb-web's get-meetings template; values from create's answer and params.
    """
    create_time = created.create_time
    metadata: list[tuple[str, Node]] = [
        (k[5:].lower(), v) for k, v in request.items() if k.startswith("meta_")
    ]
    is_breakout = (request.get("isBreakout") or "").lower() == "true"
    children: list[tuple[str, Node]] = [
        ("meetingName", request.get("name") or external_id),
        ("meetingID", external_id),
        ("internalMeetingID", created.internal_id),
        ("createTime", create_time),
        ("createDate", created.get("createDate") or java_date(create_time)),
        ("voiceBridge", created.get("voiceBridge")),
        ("dialNumber", created.get("dialNumber")),
        ("attendeePW", created.get("attendeePW")),
        ("moderatorPW", created.get("moderatorPW")),
        ("running", False),
        ("duration", created.get("duration") or "0"),
        ("hasUserJoined", created.get("hasUserJoined") or "false"),
        ("recording", False),
        ("hasBeenForciblyEnded", created.get("hasBeenForciblyEnded") or "false"),
        ("startTime", 0),
        ("endTime", 0),
        ("participantCount", 0),
        ("listenerCount", 0),
        ("voiceParticipantCount", 0),
        ("videoCount", 0),
        ("maxUsers", request.get("maxParticipants") or "0"),
        ("moderatorCount", 0),
        ("attendees", []),
        ("metadata", metadata),
        ("isBreakout", is_breakout),
    ]
    return element("meeting", children).encode("utf-8")

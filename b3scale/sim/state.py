"""What a simulated BBB node remembers, and how BBB renders it (spec/bbb-api.md §2).

Element names and order follow bbb-web's freemarker templates (create-meeting.ftlx,
get-meeting-info.ftlx, get-meetings.ftlx) and the recordings XML.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from dataclasses import dataclass, field

from b3scale.bbb.responses import Node, java_date

_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def token(length: int) -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


def now_ms() -> int:
    return int(time.time() * 1000)


def internal_meeting_id(meeting_id: str, create_time: int) -> str:
    return f"{hashlib.sha1(meeting_id.encode()).hexdigest()}-{create_time}"  # noqa: S324 - BBB's id


@dataclass(slots=True)
class Attendee:
    internal_id: str
    user_id: str
    full_name: str
    role: str  # MODERATOR or VIEWER
    client_type: str = "HTML5"
    is_presenter: bool = False
    is_listening_only: bool = False
    has_joined_voice: bool = False
    has_video: bool = False
    custom_data: dict[str, str] = field(default_factory=dict)

    def render(self) -> list[tuple[str, Node]]:
        children: list[tuple[str, Node]] = [
            ("userID", self.user_id),
            ("fullName", self.full_name),
            ("role", self.role),
            ("isPresenter", self.is_presenter),
            ("isListeningOnly", self.is_listening_only),
            ("hasJoinedVoice", self.has_joined_voice),
            ("hasVideo", self.has_video),
            ("clientType", self.client_type),
        ]
        if self.custom_data:
            children.append(("customdata", list(self.custom_data.items())))
        return children


@dataclass(slots=True)
class PendingJoin:
    """A join answered with a session token; the user arrives when the client loads."""

    session_token: str
    meeting_id: str
    attendee: Attendee


@dataclass(slots=True)
class Meeting:
    meeting_id: str
    name: str
    create_time: int
    attendee_pw: str
    moderator_pw: str
    voice_bridge: str
    dial_number: str = "613-555-1234"
    duration: int = 0
    max_users: int = 0
    record: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    #: meetingEndedURL: called (as given) when the meeting ends.
    ended_url: str = ""
    is_breakout: bool = False
    parent_meeting_id: str = "bbb-none"
    sequence: int = 0
    free_join: bool = False
    breakout_rooms: list[str] = field(default_factory=list)
    presentations: list[str] = field(default_factory=list)
    running: bool = False
    has_user_joined: bool = False
    forcibly_ended: bool = False
    start_time: int = 0
    end_time: int = 0
    attendees: dict[str, Attendee] = field(default_factory=dict)

    @property
    def internal_id(self) -> str:
        return internal_meeting_id(self.meeting_id, self.create_time)

    @property
    def ended(self) -> bool:
        return self.end_time > 0

    def count(self, predicate: str) -> int:
        return sum(1 for a in self.attendees.values() if getattr(a, predicate))

    def render_create(self) -> list[tuple[str, Node]]:
        return [
            ("meetingID", self.meeting_id),
            ("internalMeetingID", self.internal_id),
            ("parentMeetingID", self.parent_meeting_id),
            ("attendeePW", self.attendee_pw),
            ("moderatorPW", self.moderator_pw),
            ("createTime", self.create_time),
            ("voiceBridge", self.voice_bridge),
            ("dialNumber", self.dial_number),
            ("createDate", java_date(self.create_time)),
            ("hasUserJoined", self.has_user_joined),
            ("duration", self.duration),
            ("hasBeenForciblyEnded", self.forcibly_ended),
        ]

    def render_info(self, breakout_ids: list[str]) -> list[tuple[str, Node]]:
        """The children of getMeetingInfo's response and of each getMeetings <meeting>."""
        attendees = list(self.attendees.values())
        children: list[tuple[str, Node]] = [
            ("meetingName", self.name),
            ("meetingID", self.meeting_id),
            ("internalMeetingID", self.internal_id),
            ("createTime", self.create_time),
            ("createDate", java_date(self.create_time)),
            ("voiceBridge", self.voice_bridge),
            ("dialNumber", self.dial_number),
            ("attendeePW", self.attendee_pw),
            ("moderatorPW", self.moderator_pw),
            ("running", self.running),
            ("duration", self.duration),
            ("hasUserJoined", self.has_user_joined),
            ("recording", False),
            ("hasBeenForciblyEnded", self.forcibly_ended),
            ("startTime", self.start_time),
            ("endTime", self.end_time),
            ("participantCount", len(attendees)),
            ("listenerCount", self.count("is_listening_only")),
            ("voiceParticipantCount", self.count("has_joined_voice")),
            ("videoCount", self.count("has_video")),
            ("maxUsers", self.max_users),
            ("moderatorCount", sum(1 for a in attendees if a.role == "MODERATOR")),
            ("attendees", [("attendee", a.render()) for a in attendees]),
            ("metadata", list(self.metadata.items())),
            ("isBreakout", self.is_breakout),
        ]
        if self.is_breakout:
            children += [
                ("parentMeetingID", self.parent_meeting_id),
                ("sequence", self.sequence),
                ("freeJoin", self.free_join),
            ]
        if breakout_ids:
            children.append(("breakoutRooms", [("breakout", b) for b in breakout_ids]))
        return children


@dataclass(slots=True)
class TextTrack:
    kind: str
    lang: str
    label: str
    href: str
    source: str = "upload"

    def as_json(self) -> dict[str, str]:
        return {
            "href": self.href,
            "kind": self.kind,
            "label": self.label,
            "lang": self.lang,
            "source": self.source,
        }


@dataclass(slots=True)
class Recording:
    record_id: str
    meeting_id: str
    name: str
    start_time: int
    end_time: int
    participants: int = 1
    published: bool = True
    state: str = "published"
    is_breakout: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    playback_url: str = ""
    preview_images: list[str] = field(default_factory=list)
    text_tracks: list[TextTrack] = field(default_factory=list)

    @property
    def internal_meeting_id(self) -> str:
        return self.record_id

    def render(self) -> list[tuple[str, Node]]:
        # Preview images are the one place BBB uses attributes; rendered by the node.
        return [
            ("recordID", self.record_id),
            ("meetingID", self.meeting_id),
            ("internalMeetingID", self.internal_meeting_id),
            ("name", self.name),
            ("isBreakout", self.is_breakout),
            ("published", self.published),
            ("state", self.state),
            ("startTime", self.start_time),
            ("endTime", self.end_time),
            ("participants", self.participants),
            ("rawSize", 1048576),
            ("metadata", list(self.metadata.items())),
        ]

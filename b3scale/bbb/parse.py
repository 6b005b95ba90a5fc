"""Read the few fields the balancer needs from BBB responses.

The raw body is what goes back to the frontend; parsing here only extracts values (returncode,
messageKey, the meetings of getMeetings/getMeetingInfo) for decisions and for the database.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import unescape

_RETURNCODE = re.compile(rb"<returncode>\s*([A-Za-z]+)\s*</returncode>")
_MESSAGE_KEY = re.compile(rb"<messageKey>([^<]*)</messageKey>")


class ResponseError(ValueError):
    """The backend's body is not a BBB response."""


def returncode(body: bytes) -> str | None:
    """``SUCCESS``/``FAILED`` by a byte scan (no XML parse on the hot path)."""
    match = _RETURNCODE.search(body)
    return match[1].decode("ascii").upper() if match else None


def message_key(body: bytes) -> str | None:
    match = _MESSAGE_KEY.search(body)
    return unescape(match[1].decode("utf-8")) if match else None


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _int(value: str | None) -> int:
    try:
        return int((value or "0").strip())
    except ValueError:
        return 0


@dataclass(slots=True)
class MeetingInfo:
    """One ``<meeting>`` (getMeetings) or the ``<response>`` of getMeetingInfo / create."""

    #: Every child element with plain text, in document order.
    fields: dict[str, str] = field(default_factory=dict)
    attendees: list[dict[str, str]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    @property
    def meeting_id(self) -> str:
        return self.get("meetingID")

    @property
    def internal_id(self) -> str:
        return self.get("internalMeetingID")

    @property
    def name(self) -> str:
        return self.get("meetingName")

    @property
    def running(self) -> bool:
        return _bool(self.fields.get("running"))

    @property
    def create_time(self) -> int:
        return _int(self.fields.get("createTime"))

    @property
    def is_breakout(self) -> bool:
        return _bool(self.fields.get("isBreakout"))

    @property
    def parent_meeting_id(self) -> str | None:
        parent = self.fields.get("parentMeetingID")
        return parent if parent and parent != "bbb-none" else None

    def count(self, name: str) -> int:
        return _int(self.fields.get(name))


def _meeting(node: ET.Element) -> MeetingInfo:
    info = MeetingInfo()
    for child in node:
        if child.tag == "attendees":
            for attendee in child:
                info.attendees.append({a.tag: (a.text or "") for a in attendee if len(a) == 0})
        elif child.tag == "metadata":
            info.metadata = {m.tag: (m.text or "") for m in child}
        elif len(child) == 0:
            info.fields[child.tag] = child.text or ""
    return info


def _root(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)  # noqa: S314 - backends are configured by the operator
    except ET.ParseError as exc:
        raise ResponseError(f"not XML: {exc}") from None


def well_formed(xml: bytes) -> bool:
    try:
        _root(xml)
    except ResponseError:
        return False
    return True


def meetings(body: bytes) -> list[MeetingInfo]:
    """The meetings of a getMeetings response (empty for ``noMeetings``)."""
    root = _root(body)
    container = root.find("meetings")
    return [] if container is None else [_meeting(m) for m in container.findall("meeting")]


def meeting(body: bytes) -> MeetingInfo:
    """The meeting described by a getMeetingInfo or create response."""
    return _meeting(_root(body))

"""A published recording's ``metadata.xml`` (one per format, as BBB writes it under
``/var/bigbluebutton/published/<format>/<recordID>/``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

#: metadata.xml of a long meeting is a few KiB; anything this large is not one.
MAX_SIZE = 1024 * 1024


class MetadataError(ValueError):
    """Not a BBB recording's metadata.xml."""


@dataclass(frozen=True, slots=True)
class RecordingMetadata:
    record_id: str
    #: The meetingID as the node saw it (b3scale's encoded ID).
    meeting_id: str
    internal_meeting_id: str
    name: str
    is_breakout: bool
    published: bool
    state: str
    start_time: int
    end_time: int
    participants: int
    raw_size: int
    #: meta_* of the create, without the prefix.
    metadata: dict[str, str]
    #: This file's format: {"type", "url", "processing_time", "length", "size", "preview"}.
    format: dict[str, Any] = field(default_factory=dict)


def _int(text: str | None) -> int:
    """A count or a time in ms; anything else (or beyond PostgreSQL's bigint) is 0."""
    digits = (text or "0").strip()
    if not digits.isdigit() or len(digits) > 18:
        return 0
    return int(digits)


def parse_metadata(body: bytes) -> RecordingMetadata:
    if len(body) > MAX_SIZE:
        raise MetadataError("metadata.xml is too large")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MetadataError("metadata.xml must not declare a DTD or entities")
    try:
        # No DTD (refused above): no entity expansion; expat needs nothing else here.
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise MetadataError(f"metadata.xml is not XML: {exc}") from None
    if root.tag != "recording":
        raise MetadataError("metadata.xml must have <recording> at its root")
    record_id = (root.findtext("id") or "").strip()
    meeting = root.find("meeting")
    if not record_id or meeting is None or not meeting.get("externalId"):
        raise MetadataError("metadata.xml lacks the recording's id or its meeting")
    meta = root.find("meta")
    metadata = {
        child.tag: (child.text or "").strip() for child in (meta if meta is not None else [])
    }
    playback = root.find("playback")
    fmt: dict[str, Any] = {}
    if playback is not None:
        images = [
            {
                "url": (image.text or "").strip(),
                "alt": image.get("alt", ""),
                "width": image.get("width", ""),
                "height": image.get("height", ""),
            }
            for image in playback.iterfind("extensions/preview/images/image")
        ]
        fmt = {
            "type": (playback.findtext("format") or "").strip(),
            "url": (playback.findtext("link") or "").strip(),
            "processing_time": _int(playback.findtext("processing_time")),
            "length": _int(playback.findtext("duration")) // 60000,
            "size": _int(playback.findtext("size")),
            "preview": images,
        }
    state = (root.findtext("state") or "published").strip()
    return RecordingMetadata(
        record_id=record_id,
        meeting_id=meeting.get("externalId", ""),
        internal_meeting_id=meeting.get("id", record_id),
        name=meeting.get("name", ""),
        is_breakout=meeting.get("breakout", "false").lower() == "true",
        published=(root.findtext("published") or "true").strip().lower() == "true",
        state=state,
        start_time=_int(root.findtext("start_time")),
        end_time=_int(root.findtext("end_time")),
        participants=_int(root.findtext("participants")),
        raw_size=_int(root.findtext("raw_size") or root.findtext("rawSize")),
        metadata=metadata,
        format=fmt,
    )

"""BBB's response documents: content types, the error catalogue, small XML builders.

Bodies look like bbb-web's freemarker output: no XML declaration, ``<response>`` root,
``returncode`` first. Errors are HTTP 200 with returncode FAILED, as BBB answers them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from b3scale.bbb.text import clean

XML_CONTENT_TYPE = "text/xml;charset=utf-8"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"

#: messageKey -> BBB's message (spec/bbb-api.md §2.13), plus the balancer's own keys.
MESSAGES: dict[str, str] = {
    "checksumError": "Checksums do not match",
    "missingParamMeetingID": "You must provide a meeting ID",
    "missingParamFullName": "You must provide your name",
    "missingParamRecordID": "You must specify a recordID.",
    "missingParamPublish": "You must specify a publish value true or false.",
    "notFound": "A meeting with that ID does not exist",
    "invalidMeetingIdentifier": "A meeting with that ID does not exist",
    "idNotUnique": (
        "A meeting already exists with that meeting ID.  Please use a different meeting ID."
    ),
    "duplicateWarning": (
        "This conference was already in existence and may currently be in progress."
    ),
    "nonUniqueVoiceBridge": "The selected voice bridge is already in use.",
    "parentMeetingIdMissing": "No parent meeting ID was provided for the breakout room",
    "mismatchCreateTimeParam": (
        "The createTime parameter submitted mismatches with the current meeting."
    ),
    "meetingForciblyEnded": "You can not re-join a meeting that has already been forcibly ended.",
    "maxParticipantsReached": (
        "The number of participants allowed for this meeting has been reached."
    ),
    "guestDeniedAccess": (
        "You have been denied access to this meeting based on the meeting's guest policy"
    ),
    "sentEndMeetingRequest": (
        "A request to end the meeting was sent.  Please wait a few seconds, and then use the "
        "getMeetingInfo or isMeetingRunning API calls to verify that it was ended."
    ),
    "noMeetings": "no meetings were found on this server",
    "noRecordings": "There are no recordings for the meeting(s).",
    "recordingsNotFound": "We could not find recordings",
    "successfullyJoined": "You have joined successfully.",
    "guestWait": "Guest waiting for approval to join meeting.",
    "apiNotEnabled": (
        "The API service and/or controller is not enabled on this server.  "
        "To use it, you must first enable it."
    ),
    "unsupportedRequest": "This request is not supported.",
    "validationError": "Invalid parameter",
    "meetingNotFound": "Meeting not found or not active",
}


class RawXML(str):
    """Markup emitted as is (elements with attributes, such as recording preview images)."""


#: A simple value or a nested list of children; rendered in the given order.
Node = str | int | bool | None | list[tuple[str, "Node"]]


def _text(value: str | int | bool | None) -> str:
    if isinstance(value, RawXML):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(clean(str(value)))


def element(name: str, value: Node) -> str:
    """``<name>value</name>``; a nameless RawXML value is inserted as it is."""
    if not name and isinstance(value, RawXML):
        return str(value)
    if isinstance(value, list):
        return f"<{name}>{''.join(element(k, v) for k, v in value)}</{name}>"
    return f"<{name}>{_text(value)}</{name}>"


def xml_document(children: Iterable[tuple[str, Node]]) -> bytes:
    """``<response>`` with the children in order."""
    return element("response", list(children)).encode("utf-8")


def success(*children: tuple[str, Node]) -> bytes:
    return xml_document([("returncode", "SUCCESS"), *children])


def failed(message_key: str, message: str | None = None) -> bytes:
    """BBB's FAILED document; the message defaults to BBB's text for that key."""
    text = message if message is not None else MESSAGES.get(message_key, message_key)
    return xml_document([("returncode", "FAILED"), ("messageKey", message_key), ("message", text)])


class BBBError(Exception):
    """A BBB-style failure: rendered as HTTP ``status`` with returncode FAILED."""

    def __init__(self, message_key: str, message: str | None = None, status: int = 200) -> None:
        super().__init__(message_key, message)
        self.message_key = message_key
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.message_key}: {self.text}"

    @property
    def text(self) -> str:
        return self.message if self.message is not None else MESSAGES.get(self.message_key, "")

    def body(self) -> bytes:
        return failed(self.message_key, self.text)


def java_date(ms: int) -> str:
    """``Thu May 09 13:35:28 UTC 2024``, as Java's Date.toString() prints it (createDate)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def json_document(response: Mapping[str, object]) -> bytes:
    """``{"response": {...}}`` as the text-track calls answer."""
    return json.dumps({"response": response}).encode("utf-8")

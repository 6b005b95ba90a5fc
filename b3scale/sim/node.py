"""A simulated BBB node: bbb-web's API as spec/bbb-api.md describes it, in memory.

A development tool for tests and benchmarks, because a real BBB cannot run here. Each node has
its own secret; it checks checksums like bbb-web, keeps meetings, attendees and recordings, and
can publish akka-apps' Redis events. For failure tests it can add latency, answer FAILED or
HTTP 500, enforce one checksum algorithm, and stop listening and come back on the same port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from aiohttp import web

from b3scale.bbb import checksum
from b3scale.bbb.multipart import multipart_file
from b3scale.bbb.request import FORM_CONTENT_TYPE, Request, parse_query
from b3scale.bbb.responses import (
    JSON_CONTENT_TYPE,
    MESSAGES,
    XML_CONTENT_TYPE,
    Node,
    RawXML,
    element,
    failed,
    json_document,
    success,
    xml_document,
)
from b3scale.sim import callbacks, events
from b3scale.sim.published import write_published
from b3scale.sim.state import (
    Attendee,
    Meeting,
    PendingJoin,
    Recording,
    TextTrack,
    now_ms,
    token,
)

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[web.StreamResponse]]

#: Calls answered by the legacy recording controller: other checksum message, same key.
RECORDING_CALLS = frozenset(
    {
        "getRecordings",
        "publishRecordings",
        "deleteRecordings",
        "updateRecordings",
        "getRecordingTextTracks",
        "putRecordingTextTrack",
    }
)
_DOCUMENT_URL = re.compile(rb"<document\b[^>]*\burl\s*=\s*[\"']([^\"']+)[\"']")
_DOCUMENT_NAME = re.compile(rb"<document\b[^>]*\bname\s*=\s*[\"']([^\"']+)[\"']")


def xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=body,
        status=status,
        headers={"Content-Type": XML_CONTENT_TYPE, "Cache-Control": "no-cache"},
    )


def json_response(response: dict[str, object]) -> web.Response:
    return web.Response(body=json_document(response), headers={"Content-Type": JSON_CONTENT_TYPE})


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def boolean(value: str | None, default: bool = False) -> bool:
    return default if value is None else value.strip().lower() == "true"


@dataclass
class Faults:
    """Knobs for failure tests."""

    #: Seconds added before every API answer.
    latency: float = 0.0
    #: None, "failed" (returncode FAILED on every call) or "http500".
    mode: str | None = None


@dataclass
class SimNode:
    """One BBB node. ``await start()``; its API base is :attr:`api_url`."""

    secret: str = field(default_factory=lambda: token(32))
    supported_algorithms: tuple[str, ...] = tuple(checksum.ALGORITHMS)
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    #: Seconds between end and MeetingDestroyed (the meeting is gone from memory after it).
    destroy_delay: float = 0.0
    #: Seconds between the end of a recorded meeting and its recording being ready.
    recording_delay: float = 0.0
    faults: Faults = field(default_factory=Faults)
    #: Markup a newer BBB might add to every meeting (to test that unknown elements survive).
    future_elements: str = ""
    meetings: dict[str, Meeting] = field(default_factory=dict)
    recordings: dict[str, Recording] = field(default_factory=dict)
    pending: dict[str, PendingJoin] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    #: Where recordings are published as files (BBB's /var/bigbluebutton/published); None: not.
    published_dir: Path | None = None
    #: The formats a recording is published in (presentation, video).
    published_formats: tuple[str, ...] = ("presentation",)

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._events = events.EventPublisher(self.redis_url)
        self._handlers: dict[str, Handler] = {
            "": self.version,
            "create": self.create,
            "join": self.join,
            "end": self.end,
            "isMeetingRunning": self.is_meeting_running,
            "getMeetingInfo": self.get_meeting_info,
            "getMeetings": self.get_meetings,
            "getRecordings": self.get_recordings,
            "publishRecordings": self.publish_recordings,
            "deleteRecordings": self.delete_recordings,
            "updateRecordings": self.update_recordings,
            "getRecordingTextTracks": self.get_recording_text_tracks,
            "putRecordingTextTrack": self.put_recording_text_track,
            "insertDocument": self.insert_document,
            "sendChatMessage": self.send_chat_message,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/bigbluebutton/api/"

    def app(self) -> web.Application:
        # Long creates (many meta_ values) are what real frontends send a BBB server.
        app = web.Application(handler_args={"max_line_size": 65536, "max_field_size": 65536})
        app.router.add_route("*", "/bigbluebutton/api", self._dispatch)
        app.router.add_route("*", "/bigbluebutton/api/{call:[^/]*}", self._dispatch)
        app.router.add_route("*", "/bigbluebutton/api/{call:[^/]*}/", self._dispatch)
        app.router.add_get("/html5client/join", self._client_join)
        return app

    async def start(self) -> str:
        """Listen (on a free port the first time, on the same port after a stop)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self.api_url

    async def stop(self) -> None:
        """Stop listening; state is kept so that ``start()`` brings the same node back."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.stop()
        await self._events.close()

    # -- HTTP entry --------------------------------------------------------------------------

    async def _dispatch(self, http: web.Request) -> web.StreamResponse:
        call = http.match_info.get("call", "")
        self.calls.append(call)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if self.faults.mode == "http500":
            return web.Response(status=500, text="simulated failure")
        handler = self._handlers.get(call)
        if call == "":
            return await self.version(Request(""))
        request, verified = await self._verify(call, http)
        if not verified:
            return self._checksum_error(call, request)
        if self.faults.mode == "failed":
            return xml(failed("simulatedFailure", "This node was told to fail."))
        if handler is None:
            return xml(failed("unsupportedRequest"))
        return await handler(request)

    async def _verify(self, call: str, http: web.Request) -> tuple[Request, bool]:
        raw_query = http.rel_url.raw_query_string
        body = await http.read()
        content_type = http.headers.get("Content-Type") if body else None
        allowed = self.supported_algorithms
        if not raw_query and media_type(content_type) == FORM_CONTENT_TYPE:
            pairs = [(p.key, p.value) for p in parse_query(body.decode("utf-8", "replace"))]
            request = Request.from_query(call, body.decode("utf-8", "replace"), method=http.method)
            return request, checksum.verify_form(call, pairs, self.secret, allowed)
        request = Request.from_query(
            call, raw_query, method=http.method, body=body, content_type=content_type
        )
        return request, checksum.verify(call, raw_query, self.secret, allowed)

    def _checksum_error(self, call: str, request: Request) -> web.StreamResponse:
        if call == "join":
            return self._join_error(request, "checksumError", MESSAGES["checksumError"])
        message = (
            "You did not pass the checksum security check"
            if call in RECORDING_CALLS
            else MESSAGES["checksumError"]
        )
        return xml(failed("checksumError", message))

    # -- calls -------------------------------------------------------------------------------

    async def version(self, request: Request) -> web.StreamResponse:
        return xml(success(("version", "2.0"), ("apiVersion", "2.0"), ("bbbVersion", "3.0.19")))

    def _meeting_id_error(self, meeting_id: str | None) -> bytes | None:
        if not meeting_id:
            return failed("missingParamMeetingID")
        if not 2 <= len(meeting_id) <= 256:
            return failed("validationError", "Meeting ID must be between 2 and 256 characters")
        if "," in meeting_id:
            return failed("validationError", "Meeting ID cannot contain ','")
        return None

    def _live(self, meeting_id: str | None) -> Meeting | None:
        meeting = self.meetings.get(meeting_id or "")
        return meeting if meeting is not None and not meeting.ended else None

    async def create(self, request: Request) -> web.StreamResponse:
        meeting_id = request.meeting_id
        error = self._meeting_id_error(meeting_id)
        if error is not None:
            return xml(error)
        assert meeting_id is not None
        existing = self._live(meeting_id)
        attendee_pw, moderator_pw = request.get("attendeePW"), request.get("moderatorPW")
        if existing is not None:
            same = attendee_pw == existing.attendee_pw and moderator_pw == existing.moderator_pw
            if same or (attendee_pw is None and moderator_pw is None):
                return xml(
                    success(
                        *existing.render_create(),
                        ("messageKey", "duplicateWarning"),
                        ("message", MESSAGES["duplicateWarning"]),
                    )
                )
            return xml(failed("idNotUnique"))
        is_breakout = boolean(request.get("isBreakout"))
        parent = request.get("parentMeetingID")
        if is_breakout and not parent:
            return xml(failed("parentMeetingIdMissing"))
        voice_bridge = request.get("voiceBridge") or self._free_voice_bridge()
        if any(m.voice_bridge == voice_bridge for m in self.meetings.values() if not m.ended):
            return xml(
                xml_document(
                    [
                        ("returncode", "FAILED"),
                        (
                            "errors",
                            [
                                (
                                    "error",
                                    [
                                        ("key", "nonUniqueVoiceBridge"),
                                        ("message", MESSAGES["nonUniqueVoiceBridge"]),
                                    ],
                                )
                            ],
                        ),
                    ]
                )
            )
        meeting = Meeting(
            meeting_id=meeting_id,
            name=request.get("name") or meeting_id,
            create_time=now_ms(),
            attendee_pw=attendee_pw or token(12),
            moderator_pw=moderator_pw or token(12),
            voice_bridge=voice_bridge,
            dial_number=request.get("dialNumber") or "613-555-1234",
            duration=int(request.get("duration") or 0),
            max_users=int(request.get("maxParticipants") or 0),
            record=boolean(request.get("record")),
            metadata={k[5:].lower(): v for k, v in request.items() if k.startswith("meta_")},
            ended_url=request.get("meetingEndedURL") or "",
            is_breakout=is_breakout,
            parent_meeting_id=self._parent_internal_id(parent) if is_breakout else "bbb-none",
            sequence=int(request.get("sequence") or 0),
            free_join=boolean(request.get("freeJoin")),
            presentations=self._documents(request.body),
        )
        self.meetings[meeting_id] = meeting
        if is_breakout and parent in self.meetings:
            self.meetings[parent].breakout_rooms.append(meeting.internal_id)
        await self._events.publish(events.meeting_created(meeting))
        return xml(success(*meeting.render_create(), ("messageKey", ""), ("message", "")))

    def _free_voice_bridge(self) -> str:
        used = {m.voice_bridge for m in self.meetings.values()}
        while True:
            candidate = str(random.randint(10000, 99999))
            if candidate not in used:
                return candidate

    def _parent_internal_id(self, parent: str | None) -> str:
        meeting = self.meetings.get(parent or "")
        return meeting.internal_id if meeting else parent or "bbb-none"

    @staticmethod
    def _documents(body: bytes) -> list[str]:
        found = _DOCUMENT_URL.findall(body) + _DOCUMENT_NAME.findall(body)
        return [d.decode("utf-8", "replace") for d in found]

    def _join_error(self, request: Request, key: str, message: str) -> web.StreamResponse:
        """bbb-web redirects join errors to the logout URL with ``errors=`` JSON."""
        target = request.get("logoutURL") or f"{self.url}/"
        errors = quote(json.dumps([{"key": key, "message": message}]))
        joiner = "&" if "?" in target else "?"
        return redirect(f"{target}{joiner}errors={errors}")

    async def join(self, request: Request) -> web.StreamResponse:
        if not request.get("fullName"):
            return self._join_error(
                request, "missingParamFullName", MESSAGES["missingParamFullName"]
            )
        meeting_id = request.meeting_id
        if not meeting_id:
            return self._join_error(
                request, "missingParamMeetingID", MESSAGES["missingParamMeetingID"]
            )
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return self._join_error(
                request, "invalidMeetingIdentifier", MESSAGES["invalidMeetingIdentifier"]
            )
        if meeting.ended:
            return self._join_error(
                request, "meetingForciblyEnded", MESSAGES["meetingForciblyEnded"]
            )
        create_time = request.get("createTime")
        if create_time and create_time != str(meeting.create_time):
            return self._join_error(
                request, "mismatchCreateTimeParam", MESSAGES["mismatchCreateTimeParam"]
            )
        if meeting.max_users and len(meeting.attendees) >= meeting.max_users:
            return self._join_error(
                request, "maxParticipantsReached", MESSAGES["maxParticipantsReached"]
            )
        role = self._role(request, meeting)
        if role is None:
            return xml(failed("Params required", "You must enter a valid password"))
        internal_user = f"w_{token(12)}"
        attendee = Attendee(
            internal_id=internal_user,
            user_id=request.get("userID") or internal_user,
            full_name=request.get("fullName") or "",
            role=role,
            custom_data={k[9:]: v for k, v in request.items() if k.startswith("userdata-")},
        )
        session_token = token(16)
        self.pending[session_token] = PendingJoin(session_token, meeting_id, attendee)
        client_url = f"{self.url}/html5client/join?sessionToken={session_token}"
        if boolean(request.get("redirect"), default=True):
            return redirect(client_url)
        return xml(
            success(
                ("messageKey", "successfullyJoined"),
                ("message", MESSAGES["successfullyJoined"]),
                ("meeting_id", meeting.internal_id),
                ("user_id", internal_user),
                ("auth_token", token(12)),
                ("session_token", session_token),
                ("guestStatus", "ALLOW"),
                ("url", client_url),
            )
        )

    @staticmethod
    def _role(request: Request, meeting: Meeting) -> str | None:
        role = (request.get("role") or "").strip().lower()
        if role in ("moderator", "viewer"):
            return role.upper()
        password = request.get("password")
        if password == meeting.moderator_pw:
            return "MODERATOR"
        if password == meeting.attendee_pw:
            return "VIEWER"
        return None

    async def _client_join(self, http: web.Request) -> web.StreamResponse:
        """The HTML5 client loading: the user arrives in the meeting."""
        arrived = await self.complete_join(http.query.get("sessionToken", ""))
        if arrived is None:
            return web.Response(status=404, text="Invalid session token", content_type="text/html")
        return web.Response(
            text=f"<html><body>Simulated BBB client: {arrived.full_name} joined</body></html>",
            content_type="text/html",
        )

    async def complete_join(self, session_token: str) -> Attendee | None:
        """The user behind a join's session token arrives; None for an unknown token."""
        pending = self.pending.pop(session_token, None)
        meeting = self._live(pending.meeting_id) if pending else None
        if pending is None or meeting is None:
            return None
        return await self.add_attendee(meeting, pending.attendee)

    async def add_attendee(self, meeting: Meeting, attendee: Attendee) -> Attendee:
        meeting.attendees[attendee.internal_id] = attendee
        if not meeting.has_user_joined:
            meeting.start_time = now_ms()
        meeting.running = True
        meeting.has_user_joined = True
        await self._events.publish(events.user_joined(meeting, attendee))
        return attendee

    async def leave(self, meeting_id: str, internal_user_id: str) -> bool:
        """A user leaves (closes the tab); False if they were not there."""
        meeting = self._live(meeting_id)
        attendee = meeting.attendees.pop(internal_user_id, None) if meeting else None
        if meeting is None or attendee is None:
            return False
        await self._events.publish(events.user_left(meeting, attendee))
        return True

    async def end(self, request: Request) -> web.StreamResponse:
        error = self._meeting_id_error(request.meeting_id)
        if error is not None:
            return xml(error)
        meeting = self._live(request.meeting_id)
        if meeting is None:
            return xml(failed("notFound"))
        password = request.get("password")
        if password is not None and password != meeting.moderator_pw:
            return xml(
                failed("invalidPassword", "You must supply the moderator password for this call.")
            )
        await self.end_meeting(meeting)
        return xml(
            success(
                ("messageKey", "sentEndMeetingRequest"),
                ("message", MESSAGES["sentEndMeetingRequest"]),
            )
        )

    async def end_meeting(self, meeting: Meeting) -> None:
        """End as BBB does: users leave, MeetingEnded, then (after destroy_delay) Destroyed."""
        for attendee in list(meeting.attendees.values()):
            await self.leave(meeting.meeting_id, attendee.internal_id)
        meeting.running = False
        meeting.forcibly_ended = True
        meeting.end_time = now_ms()
        await self._events.publish(events.meeting_ended(meeting))
        self._background(self._after_end(meeting))
        if self.destroy_delay > 0:
            asyncio.get_running_loop().call_later(
                self.destroy_delay, lambda: asyncio.ensure_future(self._destroy(meeting))
            )
        else:
            await self._destroy(meeting)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after_end(self, meeting: Meeting) -> None:
        """What BBB does after a meeting: callbacks, and for a recorded one, a recording."""
        await callbacks.meeting_ended(meeting, self.secret, meeting.ended_url)
        if not meeting.record:
            return
        await asyncio.sleep(self.recording_delay)
        recording = self.add_recording(
            Recording(
                record_id=meeting.internal_id,
                meeting_id=meeting.meeting_id,
                name=meeting.name,
                start_time=meeting.start_time or meeting.create_time,
                end_time=meeting.end_time,
                metadata=dict(meeting.metadata),
            )
        )
        await callbacks.recording_ready(meeting, self.secret, recording.record_id)

    async def _destroy(self, meeting: Meeting) -> None:
        if self.meetings.get(meeting.meeting_id) is meeting:
            del self.meetings[meeting.meeting_id]
        await self._events.publish(events.meeting_destroyed(meeting))

    async def is_meeting_running(self, request: Request) -> web.StreamResponse:
        error = self._meeting_id_error(request.meeting_id)
        if error is not None:
            return xml(error)
        meeting = self.meetings.get(request.meeting_id or "")
        return xml(success(("running", bool(meeting and meeting.running))))

    def _render_meeting(self, meeting: Meeting) -> list[tuple[str, Node]]:
        children = meeting.render_info(list(meeting.breakout_rooms))
        if self.future_elements:
            children.append(("", RawXML(self.future_elements)))
        return children

    async def get_meeting_info(self, request: Request) -> web.StreamResponse:
        error = self._meeting_id_error(request.meeting_id)
        if error is not None:
            return xml(error)
        meeting = self.meetings.get(request.meeting_id or "")
        if meeting is None:
            return xml(failed("notFound"))
        return xml(success(*self._render_meeting(meeting)))

    async def get_meetings(self, request: Request) -> web.StreamResponse:
        if not self.meetings:
            return xml(
                success(
                    ("meetings", RawXML("")),
                    ("messageKey", "noMeetings"),
                    ("message", MESSAGES["noMeetings"]),
                ).replace(b"<meetings></meetings>", b"<meetings/>", 1)
            )
        # Rendered in slices with a yield between them: a real BBB answers other calls while
        # it writes a long getMeetings (it has threads); one event loop serving 20 simulated
        # nodes must not stall them all for the time a 1,000-meeting answer takes.
        parts: list[str] = []
        for index, meeting in enumerate(list(self.meetings.values())):
            if index and index % 25 == 0:
                await asyncio.sleep(0)
            parts.append(element("meeting", self._render_meeting(meeting)))
        return xml(success(("meetings", RawXML("".join(parts)))))

    # -- recordings --------------------------------------------------------------------------

    def add_recording(self, recording: Recording) -> Recording:
        """Seed a recording (a real node makes them after a recorded meeting)."""
        if not recording.playback_url:
            recording.playback_url = f"{self.url}/playback/presentation/2.3/{recording.record_id}"
        self.recordings[recording.record_id] = recording
        if self.published_dir is not None:
            write_published(recording, self.url, self.published_dir, self.published_formats)
        return recording

    def _select_recordings(self, request: Request) -> list[Recording]:
        record_ids = [r for r in (request.get("recordID") or "").split(",") if r]
        meeting_ids = [m for m in (request.get("meetingID") or "").split(",") if m]
        states = [s for s in (request.get("state") or "").split(",") if s]
        found = list(self.recordings.values())
        if record_ids:
            found = [r for r in found if any(r.record_id.startswith(p) for p in record_ids)]
        elif meeting_ids:
            found = [r for r in found if r.meeting_id in meeting_ids]
        if "any" not in states:
            wanted = states or ["published", "unpublished"]
            found = [r for r in found if r.state in wanted]
        for key, value in request.items():
            if key.startswith("meta_"):
                found = [r for r in found if r.metadata.get(key[5:]) == value]
        return found

    def _render_recording(self, recording: Recording) -> list[tuple[str, Node]]:
        images = "".join(
            f'<image alt={quoteattr("Slide " + str(i + 1))} height="136" width="176">{url}</image>'
            for i, url in enumerate(recording.preview_images)
        )
        playback = RawXML(
            "<format><type>presentation</type>"
            f"<url>{recording.playback_url}</url><processingTime>7177</processingTime>"
            "<length>0</length><size>1024</size>"
            f"<preview><images>{images}</images></preview></format>"
        )
        return [*recording.render(), ("playback", playback)]

    async def get_recordings(self, request: Request) -> web.StreamResponse:
        found = self._select_recordings(request)
        if not found:
            return xml(
                success(
                    ("recordings", RawXML("")),
                    ("messageKey", "noRecordings"),
                    ("message", MESSAGES["noRecordings"]),
                )
            )
        listed: list[tuple[str, Node]] = [("recording", self._render_recording(r)) for r in found]
        return xml(success(("recordings", listed)))

    def _targets(self, request: Request) -> list[Recording] | bytes:
        ids = [r for r in (request.get("recordID") or "").split(",") if r]
        if not ids:
            return failed("missingParamRecordID")
        found = [self.recordings[r] for r in ids if r in self.recordings]
        return found or failed("notFound", MESSAGES["recordingsNotFound"])

    async def publish_recordings(self, request: Request) -> web.StreamResponse:
        targets = self._targets(request)
        if isinstance(targets, bytes):
            return xml(targets)
        publish = request.get("publish")
        if publish is None:
            return xml(failed("missingParamPublish"))
        for recording in targets:
            recording.published = boolean(publish)
            recording.state = "published" if recording.published else "unpublished"
        return xml(success(("published", boolean(publish))))

    async def delete_recordings(self, request: Request) -> web.StreamResponse:
        targets = self._targets(request)
        if isinstance(targets, bytes):
            return xml(targets)
        for recording in targets:
            del self.recordings[recording.record_id]
        return xml(success(("deleted", True)))

    async def update_recordings(self, request: Request) -> web.StreamResponse:
        targets = self._targets(request)
        if isinstance(targets, bytes):
            return xml(targets)
        for recording in targets:
            for key, value in request.items():
                if key.startswith("meta_"):
                    recording.metadata[key[5:]] = value
        return xml(success(("updated", True)))

    async def get_recording_text_tracks(self, request: Request) -> web.StreamResponse:
        record_id = request.get("recordID")
        if not record_id:
            return xml(failed("missingParamRecordID"))
        recording = self.recordings.get(record_id)
        if recording is None:
            return json_response(
                {
                    "returncode": "FAILED",
                    "messageKey": "noRecordings",
                    "message": f"No recording was found for {record_id}",
                }
            )
        return json_response(
            {"returncode": "SUCCESS", "tracks": [t.as_json() for t in recording.text_tracks]}
        )

    async def put_recording_text_track(self, request: Request) -> web.StreamResponse:
        def fail(key: str, message: str) -> web.Response:
            return json_response({"returncode": "FAILED", "messageKey": key, "message": message})

        record_id, kind = request.get("recordID"), request.get("kind")
        lang, label = request.get("lang"), request.get("label")
        if not record_id:
            return fail("paramError", "Missing param recordID.")
        if not kind:
            return fail("paramError", "Missing param kind.")
        if kind not in ("subtitles", "captions"):
            return fail(
                "invalidKind",
                f"Invalid kind parameter, expected='subtitles|captions' actual={kind}",
            )
        if not lang:
            return fail("invalidLang", "Malformed lang param")
        recording = self.recordings.get(record_id)
        if recording is None:
            return fail("noRecordings", f"No recording was found for {record_id}")
        if not multipart_file(request.body, request.content_type):
            return fail("empty_uploaded_text_track", "Empty uploaded text track.")
        recording.text_tracks.append(
            TextTrack(
                kind=kind,
                lang=lang,
                label=label or lang,
                href=f"{self.url}/presentation/{record_id}/caption_{lang}.vtt",
            )
        )
        return json_response(
            {
                "returncode": "SUCCESS",
                "messageKey": "upload_text_track_success",
                "message": "Text track uploaded successfully",
                "recordId": record_id,
            }
        )

    # -- in-meeting calls --------------------------------------------------------------------

    async def insert_document(self, request: Request) -> web.StreamResponse:
        meeting = self._live(request.meeting_id)
        if meeting is None:
            return xml(
                xml_document(
                    [
                        ("returncode", "FAILED"),
                        ("message", f"Meeting with id [{request.meeting_id}] not found."),
                    ]
                )
            )
        meeting.presentations += self._documents(request.body)
        return xml(success(("message", "Presentation is being uploaded")))

    async def send_chat_message(self, request: Request) -> web.StreamResponse:
        message = request.get("message") or ""
        if not 1 <= len(message) <= 500:
            return xml(failed("validationError", "Message must be between 1 and 500 characters"))
        if self._live(request.meeting_id) is None:
            return xml(failed("meetingNotFound"))
        return xml(success(("messageKey", ""), ("message", "")))

import json
import os
from pathlib import Path

import pytest

from b3scale.agent.events import (
    MeetingCreated,
    MeetingDestroyed,
    MeetingEnded,
    UserJoined,
    UserLeft,
    parse_event,
)
from b3scale.sim import events as sim_events
from b3scale.sim.state import Attendee, Meeting

#: The real capture (redis-cli psubscribe output) when it is around; not part of the repo.
CAPTURE = Path(
    os.environ.get(
        "B3SCALE_TEST_CAPTURE",
        Path(__file__).resolve().parents[3] / "shared/data/bbb-capture/bbb_msg_dump.rds",
    )
)

# One message of each kind, in the shape of the capture (2.2) and of BBB 3.0.
CREATED = (
    '{"envelope":{"name":"MeetingCreatedEvtMsg","routing":{"sender":"bbb-apps-akka"},'
    '"timestamp":1605982451723},"core":{"header":{"name":"MeetingCreatedEvtMsg"},"body":{"props":'
    '{"meetingProp":{"name":"Home Room","extId":"8i8qwx","intId":"dfd4-1605982450209",'
    '"isBreakout":false},"breakoutProps":{"parentId":"bbb-none","sequence":0},'
    '"durationProps":{"createdTime":1605982450209}}}}}'
)
JOINED = (
    '{"envelope":{"name":"UserJoinedMeetingEvtMsg","routing":{"msgType":"BROADCAST_TO_MEETING",'
    '"meetingId":"dfd4-1605982450209","userId":"w_2kuk"},"timestamp":1},"core":{"header":'
    '{"name":"UserJoinedMeetingEvtMsg","meetingId":"dfd4-1605982450209","userId":"w_2kuk"},'
    '"body":{"intId":"w_2kuk","extId":"gl-oiys","name":"kunz","role":"MODERATOR",'
    '"guest":false,"clientType":"HTML5"}}}'
)
LEFT = (
    '{"envelope":{"name":"UserLeftMeetingEvtMsg","routing":{}},"core":{"header":{"name":'
    '"UserLeftMeetingEvtMsg","meetingId":"dfd4-1605982450209","userId":"w_2kuk"},'
    '"body":{"intId":"w_2kuk","eject":false,"reason":"","reasonCode":""}}}'
)


def test_real_shapes() -> None:
    assert parse_event(CREATED) == MeetingCreated(
        "8i8qwx", "dfd4-1605982450209", "Home Room", False, None, 1605982450209
    )
    assert parse_event(JOINED) == UserJoined(
        "dfd4-1605982450209", "w_2kuk", "gl-oiys", "kunz", "MODERATOR", "HTML5"
    )
    assert parse_event(LEFT) == UserLeft("dfd4-1605982450209", "w_2kuk")


def test_the_simulator_speaks_the_same_envelope() -> None:
    meeting = Meeting("m", "M", 17, "a", "b", "12345")
    attendee = Attendee("w_1", "ext", "Ann", "VIEWER")
    assert parse_event(json.dumps(sim_events.meeting_created(meeting))) == MeetingCreated(
        "m", meeting.internal_id, "M", False, None, 17
    )
    assert parse_event(json.dumps(sim_events.user_joined(meeting, attendee))) == UserJoined(
        meeting.internal_id, "w_1", "ext", "Ann", "VIEWER", "HTML5"
    )
    assert parse_event(json.dumps(sim_events.meeting_ended(meeting))) == MeetingEnded(
        meeting.internal_id
    )
    assert parse_event(json.dumps(sim_events.meeting_destroyed(meeting))) == MeetingDestroyed(
        meeting.internal_id
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        "null",
        '{"envelope":{}}',
        '{"envelope":{"name":"UserLeftMeetingEvtMsg"}}',
        '{"envelope":{"name":"MeetingCreatedEvtMsg"},"core":{"body":{"props":"x"}}}',
        '{"envelope":{"name":"MeetingCreatedEvtMsg"},"core":{"body":{"props":{"meetingProp":{}}}}}',
        '{"envelope":{"name":"UserJoinedMeetingEvtMsg"},"core":{"header":[],"body":{"intId":5}}}',
        b"\xff\xfe",
        '{"envelope":{"name":"SendCursorPositionPubMsg"},"core":{"body":{}}}',
    ],
)
def test_malformed_or_unknown_messages_are_ignored(raw: str | bytes) -> None:
    assert parse_event(raw) is None


@pytest.mark.skipif(not CAPTURE.exists(), reason="the BBB Redis capture is not on this machine")
def test_the_real_capture_parses_without_errors() -> None:
    lines = CAPTURE.read_text(errors="replace").splitlines()
    events = [parse_event(line) for line in lines if line.startswith("{")]
    kinds = sorted({type(e).__name__ for e in events if e is not None})
    assert kinds == ["MeetingCreated", "UserJoined", "UserLeft"]

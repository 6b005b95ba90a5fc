"""The simulator against the BBB API contract (spec/bbb-api.md §2)."""

import asyncio
import hashlib
import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import pytest

from b3scale.bbb import checksum
from b3scale.bbb.client import BackendClient, BackendResponse, BackendUnavailable
from b3scale.bbb.request import Request
from b3scale.sim.node import SimNode
from b3scale.sim.state import Recording

CREATE_ORDER = [
    "returncode",
    "meetingID",
    "internalMeetingID",
    "parentMeetingID",
    "attendeePW",
    "moderatorPW",
    "createTime",
    "voiceBridge",
    "dialNumber",
    "createDate",
    "hasUserJoined",
    "duration",
    "hasBeenForciblyEnded",
    "messageKey",
    "message",
]
INFO_ORDER = [
    "meetingName",
    "meetingID",
    "internalMeetingID",
    "createTime",
    "createDate",
    "voiceBridge",
    "dialNumber",
    "attendeePW",
    "moderatorPW",
    "running",
    "duration",
    "hasUserJoined",
    "recording",
    "hasBeenForciblyEnded",
    "startTime",
    "endTime",
    "participantCount",
    "listenerCount",
    "voiceParticipantCount",
    "videoCount",
    "maxUsers",
    "moderatorCount",
    "attendees",
    "metadata",
    "isBreakout",
]


def client(sim: SimNode, http: aiohttp.ClientSession, algorithm: str = "sha256") -> BackendClient:
    return BackendClient(http, sim.api_url, sim.secret, algorithm)


async def call(
    sim: SimNode, http: aiohttp.ClientSession, name: str, query: str = "", **kwargs: object
) -> BackendResponse:
    return await client(sim, http).call(Request.from_query(name, query, **kwargs))  # type: ignore[arg-type]


def tags(body: bytes) -> list[str]:
    return [child.tag for child in ET.fromstring(body)]


def text(body: bytes, path: str) -> str:
    return ET.fromstring(body).findtext(path) or ""


async def create(sim: SimNode, http: aiohttp.ClientSession, query: str) -> BackendResponse:
    resp = await call(sim, http, "create", query)
    assert resp.ok, resp.body
    return resp


async def test_version_needs_no_checksum(sim: SimNode, http: aiohttp.ClientSession) -> None:
    for path in ("bigbluebutton/api", "bigbluebutton/api/"):
        async with http.get(f"{sim.url}/{path}") as resp:
            body = await resp.read()
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/xml")
        assert tags(body)[:2] == ["returncode", "version"]
        assert text(body, "version") == "2.0"


async def test_wrong_checksum_is_200_failed(sim: SimNode, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.api_url}getMeetings?checksum={'0' * 40}") as resp:
        assert resp.status == 200
        body = await resp.read()
    assert text(body, "returncode") == "FAILED"
    assert text(body, "messageKey") == "checksumError"
    async with http.get(f"{sim.api_url}getMeetings") as resp:
        assert text(await resp.read(), "messageKey") == "checksumError"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
async def test_every_algorithm_is_accepted(
    sim: SimNode, http: aiohttp.ClientSession, algorithm: str
) -> None:
    resp = await client(sim, http, algorithm).call(Request("getMeetings"))
    assert resp.ok


async def test_a_node_can_enforce_one_algorithm(sim: SimNode, http: aiohttp.ClientSession) -> None:
    sim.supported_algorithms = ("sha512",)
    assert not (await client(sim, http, "sha256").call(Request("getMeetings"))).ok
    assert (await client(sim, http, "sha512").call(Request("getMeetings"))).ok


async def test_create_answers_in_template_order(sim: SimNode, http: aiohttp.ClientSession) -> None:
    resp = await create(sim, http, "name=Room+1&meetingID=room-1&attendeePW=ap&moderatorPW=mp")
    assert tags(resp.body) == CREATE_ORDER
    create_time = text(resp.body, "createTime")
    sha = hashlib.sha1(b"room-1").hexdigest()
    assert text(resp.body, "internalMeetingID") == f"{sha}-{create_time}"
    assert text(resp.body, "messageKey") == "" and text(resp.body, "parentMeetingID") == "bbb-none"
    assert len(text(resp.body, "voiceBridge")) == 5


async def test_create_is_idempotent_and_refuses_other_passwords(
    sim: SimNode, http: aiohttp.ClientSession
) -> None:
    first = await create(sim, http, "name=R&meetingID=r1&attendeePW=a&moderatorPW=m")
    for query in ("name=R&meetingID=r1&attendeePW=a&moderatorPW=m", "name=R&meetingID=r1"):
        again = await create(sim, http, query)
        assert text(again.body, "messageKey") == "duplicateWarning"
        assert text(again.body, "createTime") == text(first.body, "createTime")
    other = await call(sim, http, "create", "name=R&meetingID=r1&attendeePW=x&moderatorPW=y")
    assert other.returncode == "FAILED" and other.message_key == "idNotUnique"


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("name=x", "missingParamMeetingID"),
        ("meetingID=a", "validationError"),
        ("meetingID=a%2Cb", "validationError"),
    ],
)
async def test_create_validates_the_meeting_id(
    sim: SimNode, http: aiohttp.ClientSession, query: str, key: str
) -> None:
    resp = await call(sim, http, "create", query)
    assert resp.returncode == "FAILED" and resp.message_key == key


async def test_meta_params_and_presentations(sim: SimNode, http: aiohttp.ClientSession) -> None:
    body = (
        b'<modules><module name="presentation"><document url="https://x/a.pdf"/></module></modules>'
    )
    resp = await call(
        sim,
        http,
        "create",
        "meetingID=m1&name=M&meta_endCallbackUrl=https%3A%2F%2Fcb",
        method="POST",
        body=body,
        content_type="application/xml",
    )
    assert resp.ok
    assert sim.meetings["m1"].presentations == ["https://x/a.pdf"]
    info = await call(sim, http, "getMeetingInfo", "meetingID=m1")
    assert tags(info.body)[1:] == INFO_ORDER
    assert text(info.body, "metadata/endcallbackurl") == "https://cb"


async def test_form_post_create(sim: SimNode, http: aiohttp.ClientSession) -> None:
    pairs = [("name", "Form room"), ("meetingID", "form-1")]
    digest = checksum.compute("create", checksum.form_query(pairs), sim.secret)
    data = {"name": "Form room", "meetingID": "form-1", "checksum": digest}
    async with http.post(f"{sim.api_url}create", data=data) as resp:
        body = await resp.read()
    assert text(body, "returncode") == "SUCCESS", body
    assert sim.meetings["form-1"].name == "Form room"


async def test_join_redirects_and_the_user_arrives_when_the_client_loads(
    sim: SimNode, http: aiohttp.ClientSession
) -> None:
    created = await create(sim, http, "name=R&meetingID=j1&attendeePW=ap&moderatorPW=mp")
    running = await call(sim, http, "isMeetingRunning", "meetingID=j1")
    assert text(running.body, "running") == "false"
    join = Request.from_query(
        "join",
        f"meetingID=j1&fullName=Ann+A&role=moderator&createTime={text(created.body, 'createTime')}",
    )
    resp = await client(sim, http).call(join)
    assert resp.status == 302 and resp.location is not None
    assert "/html5client/join?sessionToken=" in resp.location
    async with http.get(resp.location) as loaded:
        assert loaded.status == 200
    info = await call(sim, http, "getMeetingInfo", "meetingID=j1")
    assert text(info.body, "participantCount") == "1"
    assert text(info.body, "moderatorCount") == "1"
    assert text(info.body, "attendees/attendee/fullName") == "Ann A"
    assert text(info.body, "running") == "true"


async def test_join_with_redirect_false_answers_xml(
    sim: SimNode, http: aiohttp.ClientSession
) -> None:
    await create(sim, http, "name=R&meetingID=j2&attendeePW=ap&moderatorPW=mp")
    resp = await call(sim, http, "join", "meetingID=j2&fullName=B&password=ap&redirect=false")
    assert resp.status == 200 and resp.message_key == "successfullyJoined"
    token = text(resp.body, "session_token")
    assert await sim.complete_join(token) is not None
    assert len(sim.meetings["j2"].attendees) == 1
    assert sim.meetings["j2"].attendees.popitem()[1].role == "VIEWER"


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("meetingID=j3&fullName=C&role=viewer&createTime=1", "mismatchCreateTimeParam"),
        ("meetingID=nope&fullName=C&role=viewer", "invalidMeetingIdentifier"),
        ("meetingID=j3&role=viewer", "missingParamFullName"),
    ],
)
async def test_join_errors_redirect_to_the_logout_url(
    sim: SimNode, http: aiohttp.ClientSession, query: str, key: str
) -> None:
    await create(sim, http, "name=R&meetingID=j3&attendeePW=ap&moderatorPW=mp")
    resp = await call(sim, http, "join", query + "&logoutURL=https%3A%2F%2Fportal%2Fbye")
    assert resp.status == 302 and resp.location is not None
    assert resp.location.startswith("https://portal/bye?errors=")
    errors = json.loads(unquote(parse_qs(urlsplit(resp.location).query)["errors"][0]))
    assert errors[0]["key"] == key


async def test_join_with_a_wrong_password_is_xml_failed(
    sim: SimNode, http: aiohttp.ClientSession
) -> None:
    await create(sim, http, "name=R&meetingID=j4&attendeePW=ap&moderatorPW=mp")
    resp = await call(sim, http, "join", "meetingID=j4&fullName=D&password=wrong")
    assert resp.status == 200 and resp.returncode == "FAILED"
    assert resp.message_key == "Params required"


async def test_unknown_meetings(sim: SimNode, http: aiohttp.ClientSession) -> None:
    running = await call(sim, http, "isMeetingRunning", "meetingID=ghost")
    assert running.ok and text(running.body, "running") == "false"
    for name in ("getMeetingInfo", "end"):
        resp = await call(sim, http, name, "meetingID=ghost")
        assert resp.returncode == "FAILED" and resp.message_key == "notFound"


async def test_get_meetings_empty_and_full(sim: SimNode, http: aiohttp.ClientSession) -> None:
    empty = await call(sim, http, "getMeetings")
    assert b"<meetings/>" in empty.body and empty.message_key == "noMeetings"
    assert tags(empty.body) == ["returncode", "meetings", "messageKey", "message"]
    await create(sim, http, "name=A&meetingID=g1")
    await create(sim, http, "name=B&meetingID=g2")
    full = await call(sim, http, "getMeetings")
    assert tags(full.body) == ["returncode", "meetings"]
    meetings = ET.fromstring(full.body).findall("meetings/meeting")
    assert [m.findtext("meetingID") for m in meetings] == ["g1", "g2"]
    assert [c.tag for c in meetings[0]] == INFO_ORDER
    assert [m.meeting_id for m in await client(sim, http).get_meetings()] == ["g1", "g2"]


async def test_end_removes_the_meeting(sim: SimNode, http: aiohttp.ClientSession) -> None:
    await create(sim, http, "name=A&meetingID=e1&attendeePW=ap&moderatorPW=mp")
    wrong = await call(sim, http, "end", "meetingID=e1&password=ap")
    assert wrong.returncode == "FAILED"
    resp = await call(sim, http, "end", "meetingID=e1&password=mp")
    assert resp.ok and resp.message_key == "sentEndMeetingRequest"
    assert "e1" not in sim.meetings
    again = await create(sim, http, "name=A&meetingID=e1&attendeePW=x&moderatorPW=y")
    assert text(again.body, "messageKey") == ""  # a new meeting, not a duplicate


async def test_breakout_rooms(sim: SimNode, http: aiohttp.ClientSession) -> None:
    parent = await create(sim, http, "name=P&meetingID=parent")
    missing = await call(sim, http, "create", "name=B&meetingID=b1&isBreakout=true")
    assert missing.message_key == "parentMeetingIdMissing"
    await create(sim, http, "name=B&meetingID=b1&isBreakout=true&parentMeetingID=parent&sequence=1")
    info = await call(sim, http, "getMeetingInfo", "meetingID=b1")
    assert tags(info.body)[-3:] == ["parentMeetingID", "sequence", "freeJoin"]
    assert text(info.body, "parentMeetingID") == text(parent.body, "internalMeetingID")
    parent_info = await call(sim, http, "getMeetingInfo", "meetingID=parent")
    assert tags(parent_info.body)[-1] == "breakoutRooms"


async def test_recordings(sim: SimNode, http: aiohttp.ClientSession) -> None:
    none = await call(sim, http, "getRecordings", "meetingID=rec")
    assert none.ok and none.message_key == "noRecordings"
    sim.add_recording(Recording("abc-1", "rec", "Rec", 1, 2, preview_images=["https://p/1.png"]))
    sim.add_recording(
        Recording("def-2", "other", "Other", 1, 2, published=False, state="unpublished")
    )
    found = await call(sim, http, "getRecordings", "meetingID=rec")
    assert [r.findtext("recordID") for r in ET.fromstring(found.body).iter("recording")] == [
        "abc-1"
    ]
    assert b'<image alt="Slide 1" height="136" width="176">https://p/1.png</image>' in found.body
    by_prefix = await call(sim, http, "getRecordings", "recordID=def")
    assert b"<recordID>def-2</recordID>" in by_prefix.body
    published = await call(sim, http, "publishRecordings", "recordID=def-2&publish=true")
    assert text(published.body, "published") == "true" and sim.recordings["def-2"].published
    updated = await call(sim, http, "updateRecordings", "recordID=abc-1&meta_gl-listed=true")
    assert updated.ok and sim.recordings["abc-1"].metadata == {"gl-listed": "true"}
    missing = await call(sim, http, "publishRecordings", "publish=true")
    assert missing.message_key == "missingParamRecordID"
    unknown = await call(sim, http, "deleteRecordings", "recordID=zzz")
    assert unknown.message_key == "notFound"
    deleted = await call(sim, http, "deleteRecordings", "recordID=abc-1")
    assert text(deleted.body, "deleted") == "true" and "abc-1" not in sim.recordings


async def test_text_tracks(sim: SimNode, http: aiohttp.ClientSession) -> None:
    sim.add_recording(Recording("abc-1", "rec", "Rec", 1, 2))
    form = aiohttp.FormData()
    form.add_field(
        "file",
        b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n",
        filename="de.vtt",
        content_type="text/vtt",
    )
    query = Request.build(
        "putRecordingTextTrack",
        {"recordID": "abc-1", "kind": "subtitles", "lang": "de-DE", "label": "DE"},
    )
    async with http.post(client(sim, http).url(query), data=form) as resp:
        put = await resp.json(content_type=None)
    assert put["response"]["messageKey"] == "upload_text_track_success"
    got = await call(sim, http, "getRecordingTextTracks", "recordID=abc-1")
    tracks = json.loads(got.body)["response"]["tracks"]
    assert [(t["kind"], t["lang"], t["label"]) for t in tracks] == [("subtitles", "de-DE", "DE")]
    unknown = await call(sim, http, "getRecordingTextTracks", "recordID=nope")
    assert json.loads(unknown.body)["response"]["messageKey"] == "noRecordings"


async def test_insert_document_and_chat(sim: SimNode, http: aiohttp.ClientSession) -> None:
    await create(sim, http, "name=A&meetingID=d1")
    doc = (
        b'<modules><module name="presentation"><document url="https://x/b.pdf"/></module></modules>'
    )
    ok = await call(
        sim,
        http,
        "insertDocument",
        "meetingID=d1",
        method="POST",
        body=doc,
        content_type="application/xml",
    )
    assert ok.ok and sim.meetings["d1"].presentations == ["https://x/b.pdf"]
    missing = await call(
        sim,
        http,
        "insertDocument",
        "meetingID=zz",
        method="POST",
        body=doc,
        content_type="application/xml",
    )
    assert missing.returncode == "FAILED"
    chat = await call(sim, http, "sendChatMessage", "meetingID=d1&message=hi")
    assert chat.ok
    assert (
        await call(sim, http, "sendChatMessage", "meetingID=zz&message=hi")
    ).message_key == "meetingNotFound"


async def test_unknown_call(sim: SimNode, http: aiohttp.ClientSession) -> None:
    resp = await call(sim, http, "frobnicate")
    assert resp.returncode == "FAILED" and resp.message_key == "unsupportedRequest"


async def test_faults(sim: SimNode, http: aiohttp.ClientSession) -> None:
    sim.faults.mode = "failed"
    assert (await call(sim, http, "getMeetings")).returncode == "FAILED"
    sim.faults.mode = "http500"
    with pytest.raises(BackendUnavailable, match="HTTP 500"):
        await call(sim, http, "getMeetings")
    sim.faults.mode = None
    sim.faults.latency = 0.3
    with pytest.raises(BackendUnavailable):
        await client(sim, http).call(Request("getMeetings"), timeout=0.1)
    sim.faults.latency = 0


async def test_stop_listening_and_come_back(sim: SimNode, http: aiohttp.ClientSession) -> None:
    await create(sim, http, "name=A&meetingID=s1")
    port = sim.port
    await sim.stop()
    with pytest.raises(BackendUnavailable):
        await call(sim, http, "getMeetings")
    await sim.start()
    assert sim.port == port
    assert [m.meeting_id for m in await client(sim, http).get_meetings()] == ["s1"]


async def test_concurrent_joins_are_all_counted(sim: SimNode, http: aiohttp.ClientSession) -> None:
    await create(sim, http, "name=A&meetingID=c1&attendeePW=ap&moderatorPW=mp")
    joins = [
        call(sim, http, "join", f"meetingID=c1&fullName=U{i}&role=viewer&redirect=false")
        for i in range(20)
    ]
    tokens = [text(r.body, "session_token") for r in await asyncio.gather(*joins)]
    await asyncio.gather(*(sim.complete_join(t) for t in tokens))
    assert len(sim.meetings["c1"].attendees) == 20

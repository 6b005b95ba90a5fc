"""The gateway's pure parts, each alone."""

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from b3scale.bbb import parse
from b3scale.bbb.request import Request
from b3scale.bbb.responses import BBBError
from b3scale.cluster import join_pages, meeting_ids, meeting_state
from b3scale.cluster.chain import (
    Context,
    Handler,
    Middleware,
    Reply,
    Step,
    compose,
    compose_per_call,
)
from b3scale.cluster.middlewares.default_presentation import with_default_presentation
from b3scale.cluster.middlewares.rewrite_meeting_id import decode_body, encode_request
from b3scale.cluster.middlewares.set_params import apply_params
from b3scale.store.frontends import Frontend
from b3scale.web.bbbapi import call_name

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def frontend(**settings: object) -> Frontend:
    return Frontend(uuid.uuid4(), "fe", "s", True, None, dict(settings), NOW, NOW)


def test_meeting_ids_match_b3scale() -> None:
    encoded = meeting_ids.encode("fkey1", "mid1")
    assert base64.urlsafe_b64decode(encoded) == b'["fkey1","mid1","b3scl"]'
    assert meeting_ids.decode(encoded) == ("fkey1", "mid1")
    tricky = meeting_ids.encode("k", "a<b>&c ü")
    assert b"\\u003c" in base64.urlsafe_b64decode(tricky)  # Go's HTML escaping
    assert meeting_ids.decode(tricky) == ("k", "a<b>&c ü")


@pytest.mark.parametrize(
    "value", ["", "plain-id", "YWJj", base64.urlsafe_b64encode(b'["a","b","x"]').decode()]
)
def test_foreign_ids_do_not_decode(value: str) -> None:
    assert meeting_ids.decode(value) is None


def test_breakout_ids_map_back_with_their_suffix() -> None:
    parent = meeting_ids.encode("fe", "lecture")
    assert meeting_ids.for_frontend(f"{parent}-3", "fe") == "lecture-3"
    assert meeting_ids.for_frontend(f"{parent}-3", "other") is None
    assert meeting_ids.owner(f"{parent}-3") == "fe"


def test_encode_request_and_decode_body() -> None:
    req = Request.build("create", {"meetingID": "m1", "name": "n", "parentMeetingID": "p"})
    encoded = encode_request(req, "fe")
    assert encoded.meeting_id == meeting_ids.encode("fe", "m1")
    assert encoded.get("parentMeetingID") == meeting_ids.encode("fe", "p")
    body = f"<response><meetingID>{encoded.meeting_id}</meetingID></response>".encode()
    assert decode_body(body, "fe") == b"<response><meetingID>m1</meetingID></response>"
    assert decode_body(body, "other") == body
    with pytest.raises(BBBError, match="validationError"):
        encode_request(Request.build("create", {"meetingID": "x" * 300}), "fe")


def test_apply_params() -> None:
    req = Request.build("create", {"meetingID": "m", "record": "true", "disabledFeatures": "chat"})
    out = apply_params(
        req,
        {"maxParticipants": "5", "record": "false", "disabledFeatures": "polls,chat"},
        {"muteOnStart": "true"},
    )
    assert out.get("maxParticipants") == "5"
    assert out.get("record") == "true"  # a default does not override
    assert out.get("disabledFeatures") == "chat,polls"
    assert out.get("muteOnStart") == "true"
    assert apply_params(req, None, {"record": "false"}).get("record") == "false"


def test_default_presentation() -> None:
    req = Request.build("create", {"meetingID": "m"})
    out = with_default_presentation(req, {"url": "https://x/slides.pdf"})
    assert b'url="https://x/slides.pdf" filename="slides.pdf"' in out.body
    own = req.with_body(b"<modules/>", "application/xml")
    assert with_default_presentation(own, {"url": "https://x/a.pdf"}).body == b"<modules/>"
    assert (
        b"a.pdf" in with_default_presentation(own, {"url": "https://x/a.pdf", "force": True}).body
    )
    assert with_default_presentation(req, None) is req
    join = Request.build("join", {"meetingID": "m"})
    assert with_default_presentation(join, {"url": "https://x/a.pdf"}) is join


def test_retry_tokens() -> None:
    token = join_pages.make_retry_token(b"k", "/bbb/fe/bigbluebutton/api/join?x=1", now=1000)
    assert (
        join_pages.read_retry_token(b"k", token, now=1001) == "/bbb/fe/bigbluebutton/api/join?x=1"
    )
    assert join_pages.read_retry_token(b"other", token, now=1001) is None
    assert join_pages.read_retry_token(b"k", token, now=1000 + 7200) is None
    evil = join_pages.make_retry_token(b"k", "https://evil.example/", now=1000)
    assert join_pages.read_retry_token(b"k", evil, now=1001) is None
    assert join_pages.read_retry_token(b"k", "garbage", now=1001) is None
    # Tokens come from URLs and cookies: anything at all is "no token", never an exception.
    for odd in ("é.é", "abc.d\u00e9f", "\u00e9", ".", "..", "a" * 5000 + "." + "b"):
        assert join_pages.read_retry_token(b"k", odd, now=1001) is None


@pytest.mark.parametrize(
    ("tail", "call"),
    [
        ("bigbluebutton/api/create", "create"),
        ("bigbluebutton/api/join/", "join"),
        ("api/end", "end"),
        ("getMeetings", "getMeetings"),
        ("bigbluebutton/api", ""),
        ("bigbluebutton/api/", ""),
        ("", ""),
    ],
)
def test_call_name(tail: str, call: str) -> None:
    assert call_name(tail) == call


def tagging(seen: list[str]) -> tuple[Callable[[str], Middleware], Callable[[str], Handler]]:
    """Middlewares and terminals that write their names into ``seen`` as they run."""

    def tag(name: str) -> Middleware:
        def middleware(next_handler: Handler) -> Handler:
            async def handler(ctx: Context) -> Reply:
                seen.append(name)
                return await next_handler(ctx)

            return handler

        return middleware

    def terminal(name: str) -> Handler:
        async def handler(ctx: Context) -> Reply:
            seen.append(name)
            return Reply(b"")

        return handler

    return tag, terminal


async def test_compose_runs_middlewares_in_list_order() -> None:
    seen: list[str] = []
    tag, terminal = tagging(seen)
    chain = compose([tag("first"), tag("second"), tag("third")], terminal("terminal"))
    await chain(Context(frontend(), Request("create")))
    assert seen == ["first", "second", "third", "terminal"]


async def test_each_call_runs_only_its_steps_in_list_order() -> None:
    seen: list[str] = []
    tag, terminal = tagging(seen)
    chain_for = compose_per_call(
        [
            Step(tag("every")),
            Step(tag("create-only"), frozenset({"create"})),
            Step(tag("join-and-end"), frozenset({"join", "end"})),
            Step(tag("every-again")),
        ],
        {"create": terminal("create"), "join": terminal("join"), "end": terminal("end")},
        terminal("unsupported"),
    )
    for call in ("create", "join", "fooBar"):
        seen.clear()
        await chain_for(call)(Context(frontend(), Request(call)))
        assert (
            seen
            == {
                "create": ["every", "create-only", "every-again", "create"],
                "join": ["every", "join-and-end", "every-again", "join"],
                "fooBar": ["every", "every-again", "unsupported"],
            }[call]
        )


def test_an_element_with_a_bad_metadata_name_is_recognised_as_not_well_formed() -> None:
    """Why the gateway refuses such names, and why _store checks what it keeps."""
    created = parse.meeting(
        b"<response><returncode>SUCCESS</returncode><meetingID>m</meetingID>"
        b"<internalMeetingID>i-1</internalMeetingID><createTime>1</createTime></response>"
    )
    good = Request.build("create", {"meetingID": "m", "meta_bbb-origin": "gl"})
    bad = Request.build("create", {"meetingID": "m", "meta_fz1_%": "x"})
    assert parse.well_formed(meeting_state.meeting_element_from_create(good, "m", created))
    assert not parse.well_formed(meeting_state.meeting_element_from_create(bad, "m", created))

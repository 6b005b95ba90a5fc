"""The BBB gateway against an attacker: every answer is a well-formed BBB document, and a
refused call reaches no node."""

import gzip
import xml.etree.ElementTree as ET

import pytest
from yarl import URL

from b3scale.bbb.request import Request
from b3scale.sim.node import SimNode
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from tests.support.bbbclient import FrontendClient
from tests.support.cluster import App, frontend


async def raw(gateway: App, path_and_query: str, **kwargs: object) -> tuple[int, bytes, str]:
    url = URL(str(gateway.make_url("/")).rstrip("/") + path_and_query, encoded=True)
    async with gateway.session.request(kwargs.pop("method", "GET"), url, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


def failed_with(body: bytes) -> str:
    root = ET.fromstring(body)
    assert root.findtext("returncode") == "FAILED"
    return root.findtext("messageKey") or ""


@pytest.mark.parametrize(
    "path",
    [
        "/bbb/fz-a%00/bigbluebutton/api/getMeetings",
        "/bbb/%01%02/bigbluebutton/api/getMeetings",
        "/bbb/%ED%BF%BF/bigbluebutton/api/getMeetings",
        "/bbb/" + "k" * 9000 + "/bigbluebutton/api/getMeetings",
        "/bbb/",
    ],
)
async def test_keys_no_frontend_can_have_are_unknown(gateway: App, path: str) -> None:
    status, body, content_type = await raw(gateway, path)
    assert (status, failed_with(body)) == (200, "unknownFrontend")
    assert content_type.startswith("text/xml")


@pytest.mark.parametrize(
    ("params", "call"),
    [
        ({"meetingID": "a\x00b", "name": "x"}, "create"),
        ({"meetingID": "room", "name": "x\x01y"}, "create"),
        ({"meetingID": "room", "meta_x\x00": "1"}, "create"),
        ({"meetingID": "a\x00b", "fullName": "x", "role": "VIEWER"}, "join"),
        ({"meetingID": "a\x00b"}, "getMeetingInfo"),
        ({"meetingID": "a\x00b"}, "isMeetingRunning"),
        ({"meetingID": "a\x00b"}, "end"),
        ({"recordID": "a\x00b"}, "getRecordings"),
    ],
)
async def test_parameters_with_nul_or_control_characters_are_refused(
    db: Database,
    gateway: App,
    fleet: list[SimNode],
    ready: list[Backend],
    params: dict[str, str],
    call: str,
) -> None:
    fe = await frontend(db, gateway, "fe")
    before = [len(node.calls) for node in fleet]
    answer = await fe.call(call, params)
    assert (answer.status, answer.returncode, answer.message_key) == (
        200,
        "FAILED",
        "validationError",
    )
    assert "not allowed" in answer.text("message")
    assert [len(node.calls) for node in fleet] == before
    assert await db.fetch_value("SELECT count(*) FROM meetings") == 0


@pytest.mark.parametrize("name", ["fz1_%", "fz2_<", "1abc", "a b", "x" * 129, "", "ünï"])
async def test_metadata_names_that_are_not_xml_names_are_refused(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend], name: str
) -> None:
    fe = await frontend(db, gateway, "fe")
    good = await fe.call("create", {"meetingID": "good", "name": "Good", "meta_bbb-origin": "gl"})
    assert good.returncode == "SUCCESS"
    before = [len(node.calls) for node in fleet]
    answer = await fe.call("create", {"meetingID": "evil", "name": "Evil", f"meta_{name}": "v"})
    assert (answer.returncode, answer.message_key) == ("FAILED", "validationError")
    assert f"meta_{name}"[:64] in answer.text("message")
    assert [len(node.calls) for node in fleet] == before
    listing = await fe.call("getMeetings")
    assert [m.findtext("meetingID") for m in ET.fromstring(listing.body).iter("meeting")] == [
        "good"
    ]


async def test_broken_bodies_get_a_bbb_answer(
    db: Database, gateway: App, ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe")
    path = fe.path("create", {"meetingID": "mm", "name": "n"})
    status, body, _ = await raw(
        gateway,
        path,
        method="POST",
        data=b"\x1f\x8bgarbage",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"},
    )
    assert (status, failed_with(body)) == (400, "badRequest")
    good = gzip.compress(b"<modules/>")
    status, body, _ = await raw(
        gateway,
        path,
        method="POST",
        data=good,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"},
    )
    assert ET.fromstring(body).findtext("returncode") == "SUCCESS", body


async def test_a_long_create_is_accepted(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    """Request lines up to 64 KiB (aiohttp stops at 8 KiB by default)."""
    fe = await frontend(db, gateway, "fe")
    meta = {f"meta_field{i}": "v" * 200 for i in range(150)}
    assert len(Request.build("create", meta).query) > 30_000
    answer = await fe.call("create", {"meetingID": "long", "name": "Long", **meta})
    assert answer.returncode == "SUCCESS"


async def test_own_documents_never_carry_characters_xml_cannot(db: Database, gateway: App) -> None:
    fe = FrontendClient(gateway, "nobody", "x")
    answer = await fe.call("getMeetings")
    ET.fromstring(answer.body)  # well-formed
    from b3scale.bbb.responses import failed

    ET.fromstring(failed("x", "bad \x00\x01\ud800 text"))


async def test_signed_paths_with_odd_tokens_are_refused_not_crashed(gateway: App) -> None:
    # Non-ASCII in a token once reached hmac.compare_digest (TypeError, a 500).
    for path, expected in (
        ("/b3s/retry-join/%C3%A9.%C3%A9", 404),
        ("/b3s/retry-join/..", 404),
        ("/b3s/callback/%C3%A9x.y", 404),
    ):
        status, _, _ = await raw(gateway, path)
        assert status == expected, path

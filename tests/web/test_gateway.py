"""The BBB gateway end to end: real PostgreSQL, real HTTP, simulated BBB nodes."""

import asyncio
import io
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from b3scale.bbb import checksum
from b3scale.cluster import meeting_ids
from b3scale.config import Config
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.app import create_app
from b3scale.web.keys import CONFIG, CONTROLLER, STATS
from tests.support.bbbclient import FrontendClient
from tests.support.cluster import add_backend, frontend, holder

App = TestClient[web.Request, web.Application]


async def listed_with(fe: FrontendClient, needle: bytes) -> None:
    """Until getMeetings holds ``needle``: it answers from the database, where getMeetingInfo's
    answer is stored in the background right after it was forwarded."""
    async with asyncio.timeout(5):
        while needle not in (await fe.call("getMeetings")).body:
            await asyncio.sleep(0.02)


async def test_version_unknown_frontend_and_bad_checksum(db: Database, gateway: App) -> None:
    fe = await frontend(db, gateway, "fe1")
    for path in ("/bbb/fe1/bigbluebutton/api", "/bbb/fe1/bigbluebutton/api/", "/bbb/fe1/api/"):
        async with gateway.get(path) as resp:
            body = await resp.read()
            assert resp.status == 200 and b"<version>2.0</version>" in body
    unknown = FrontendClient(gateway, "nope", "x")
    answer = await unknown.call("getMeetings")
    assert (answer.status, answer.returncode, answer.message_key) == (
        200,
        "FAILED",
        "unknownFrontend",
    )
    wrong = FrontendClient(gateway, "fe1", "wrong-secret")
    answer = await wrong.call("getMeetings")
    assert (answer.status, answer.message_key) == (200, "checksumError")
    await db.execute("UPDATE frontends SET active = false")
    # Instances cache frontends; the change arrives by NOTIFY within moments.
    async with asyncio.timeout(5):
        while (await fe.call("getMeetings")).message_key != "frontendDisabled":
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
async def test_every_checksum_algorithm_and_path_form(
    db: Database, gateway: App, algorithm: str
) -> None:
    await frontend(db, gateway, "fe1")
    digest = checksum.compute("getMeetings", "", "fe1-secret", algorithm)
    for prefix in ("/bbb/fe1/bigbluebutton/api/", "/bbb/fe1/api/", "/bbb/fe1/"):
        async with gateway.get(f"{prefix}getMeetings?checksum={digest}") as resp:
            body = await resp.read()
        assert b"<returncode>SUCCESS</returncode>" in body, (prefix, body)


async def test_meeting_lifecycle_through_the_gateway(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "greenlight")
    params = {
        "meetingID": "room-1",
        "name": "Room 1",
        "attendeePW": "ap",
        "moderatorPW": "mp",
        "meta_bbb-origin": "Greenlight",
    }
    created = await fe.call("create", params)
    assert created.returncode == "SUCCESS" and created.text("meetingID") == "room-1"
    node = holder(fleet, "greenlight", "room-1")
    create_time = created.text("createTime")

    again = await fe.call("create", params)
    assert again.message_key == "duplicateWarning"
    assert again.text("createTime") == create_time
    assert sum(len(n.meetings) for n in fleet) == 1

    listed = await fe.call("getMeetings")
    meetings = ET.fromstring(listed.body).findall("meetings/meeting")
    assert [m.findtext("meetingID") for m in meetings] == ["room-1"]
    assert meetings[0].findtext("metadata/bbb-origin") == "Greenlight"

    assert (await fe.call("isMeetingRunning", {"meetingID": "room-1"})).text("running") == "false"
    join = await fe.call(
        "join",
        {"meetingID": "room-1", "fullName": "Ann", "role": "moderator", "createTime": create_time},
    )
    assert join.status == 302 and join.location is not None
    target = urlsplit(join.location)
    assert join.location.startswith(node.api_url + "join?")
    assert checksum.verify("join", target.query, node.secret)
    assert parse_qs(target.query)["meetingID"] == [meeting_ids.encode("greenlight", "room-1")]
    assert "text/html" in join.content_type
    async with gateway.session.get(join.location, allow_redirects=True) as arrived:
        assert arrived.status == 200

    info = await fe.call("getMeetingInfo", {"meetingID": "room-1"})
    assert info.text("meetingID") == "room-1" and info.text("participantCount") == "1"
    assert (await fe.call("isMeetingRunning", {"meetingID": "room-1"})).text("running") == "true"
    await listed_with(fe, b"<participantCount>1</participantCount>")

    ended = await fe.call("end", {"meetingID": "room-1"})
    assert ended.message_key == "sentEndMeetingRequest"
    assert (await fe.call("getMeetings")).message_key == "noMeetings"
    assert (await fe.call("getMeetingInfo", {"meetingID": "room-1"})).message_key == "notFound"


async def test_unknown_meetings_answer_like_bbb(
    db: Database, gateway: App, ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    running = await fe.call("isMeetingRunning", {"meetingID": "ghost"})
    assert (running.returncode, running.text("running")) == ("SUCCESS", "false")
    assert (await fe.call("end", {"meetingID": "ghost"})).message_key == "notFound"
    assert (await fe.call("getMeetingInfo", {"meetingID": "ghost"})).message_key == "notFound"
    join = await fe.call("join", {"meetingID": "ghost", "fullName": "X", "role": "viewer"})
    assert join.status == 404 and join.content_type.startswith("text/html")
    assert b"Meeting not found" in join.body
    assert (await fe.call("frobnicate")).message_key == "unsupportedRequest"
    assert (await fe.call("create", {"name": "no id"})).message_key == "missingParamMeetingID"
    empty = await fe.call("getMeetings")
    assert b"<meetings/>" in empty.body and empty.message_key == "noMeetings"


async def test_tenants_are_isolated(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    a = await frontend(db, gateway, "tenant-a")
    b = await frontend(db, gateway, "tenant-b")
    await a.call("create", {"meetingID": "shared", "name": "A", "moderatorPW": "a"})
    await b.call("create", {"meetingID": "shared", "name": "B", "moderatorPW": "b"})
    await a.call("create", {"meetingID": "only-a", "name": "A2"})
    assert sum(len(n.meetings) for n in fleet) == 3
    listed_b = ET.fromstring((await b.call("getMeetings")).body)
    assert [m.findtext("meetingName") for m in listed_b.iter("meeting")] == ["B"]
    info = await b.call("getMeetingInfo", {"meetingID": "shared"})
    assert info.text("meetingName") == "B" and info.text("moderatorPW") == "b"
    assert (await b.call("getMeetingInfo", {"meetingID": "only-a"})).message_key == "notFound"
    assert (await b.call("end", {"meetingID": "only-a"})).message_key == "notFound"
    join = await b.call("join", {"meetingID": "only-a", "fullName": "Eve", "role": "moderator"})
    assert join.status == 404
    assert holder(fleet, "tenant-a", "only-a").meetings  # untouched


async def test_required_tags(db: Database, gateway: App, fleet: list[SimNode]) -> None:
    await add_backend(db, gateway, fleet[0], tags=["gold", "eu"])
    await add_backend(db, gateway, fleet[1])
    gold = await frontend(db, gateway, "gold", required_tags=["gold"])
    for i in range(5):
        assert (await gold.call("create", {"meetingID": f"g{i}", "name": "G"})).returncode == (
            "SUCCESS"
        )
    assert len(fleet[0].meetings) == 5 and not fleet[1].meetings
    platinum = await frontend(db, gateway, "platinum", required_tags=["platinum"])
    answer = await platinum.call("create", {"meetingID": "p1", "name": "P"})
    assert (answer.returncode, answer.message_key) == ("FAILED", "noBackendAvailable")


async def test_a_burst_of_creates_spreads_evenly(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    frontends = [await frontend(db, gateway, f"fe{i}") for i in range(3)]
    creates = [
        fe.call("create", {"meetingID": f"m{i}", "name": f"M{i}"})
        for i in range(20)
        for fe in frontends
    ]
    answers = await asyncio.gather(*creates)
    assert all(a.returncode == "SUCCESS" for a in answers)
    counts = [len(n.meetings) for n in fleet]
    assert counts == [20, 20, 20]  # least loaded first, under the lock: exact, not random


async def test_disabled_backend_takes_no_new_meetings_but_keeps_its_joins(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fe.call("create", {"meetingID": "before", "name": "B"})
    node = holder(fleet, "fe1", "before")
    [backend] = [b for b in ready if b.host == node.api_url]
    await backend_store.set_admin_state(db, backend.id, "stopped")
    for i in range(6):
        answer = await fe.call("create", {"meetingID": f"after-{i}", "name": "A"})
        assert answer.returncode == "SUCCESS"
    assert len(node.meetings) == 1
    join = await fe.call("join", {"meetingID": "before", "fullName": "X", "role": "viewer"})
    assert join.status == 302 and join.location and join.location.startswith(node.api_url)


async def test_a_dead_node_gets_no_meetings_and_its_rooms_move(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fe.call("create", {"meetingID": "room", "name": "R"})
    dead = holder(fleet, "fe1", "room")
    [backend] = [b for b in ready if b.host == dead.api_url]
    await dead.stop()
    controller = gateway.app[CONTROLLER]
    assert not await controller.poll(backend)
    assert not await controller.poll(backend)
    refreshed = await backend_store.select_backend(db, backend.id)
    assert refreshed is not None and refreshed.node_state == "error" and not refreshed.healthy

    join = await fe.call("join", {"meetingID": "room", "fullName": "X", "role": "viewer"})
    assert join.status == 302 and join.location and join.location.startswith("/b3s/retry-join/")
    async with gateway.get(join.location) as page:
        assert page.status == 200 and b"Please wait" in await page.read()
    async with gateway.get(join.location[:-3] + "abc") as forged:
        assert forged.status == 404

    placed_before = gateway.app[STATS].placements["placed"]
    moved = await fe.call("create", {"meetingID": "room", "name": "R"})
    assert moved.returncode == "SUCCESS" and moved.message_key == ""
    new_home = holder([n for n in fleet if n is not dead], "fe1", "room")
    async with asyncio.timeout(5):  # joins follow the move (the route cache is told by NOTIFY)
        while True:
            join = await fe.call("join", {"meetingID": "room", "fullName": "X", "role": "viewer"})
            if join.location and join.location.startswith(new_home.api_url):
                break
            await asyncio.sleep(0.02)
    for i in range(6):
        answer = await fe.call("create", {"meetingID": f"new-{i}", "name": "N"})
        assert answer.returncode == "SUCCESS"
    # One placement per create: the router never chose the dead node (a create sent there
    # would have failed over to a second placement), and the database agrees.
    assert gateway.app[STATS].placements["placed"] - placed_before == 7
    homes = await db.fetch_all(
        "SELECT backend_id FROM meetings WHERE external_id = 'room' OR external_id LIKE 'new-%%'"
    )
    assert len(homes) == 7 and backend.id not in {row["backend_id"] for row in homes}


async def test_an_unreachable_backend_is_skipped_on_create(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fleet[0].stop()  # not noticed by a poll yet
    for i in range(6):
        answer = await fe.call("create", {"meetingID": f"r{i}", "name": "R"})
        assert answer.returncode == "SUCCESS"
    assert sum(len(n.meetings) for n in fleet[1:]) == 6


async def test_failed_answers_pass_through_unchanged(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fe.call("create", {"meetingID": "pw", "name": "P", "attendeePW": "a", "moderatorPW": "m"})
    other = await fe.call(
        "create", {"meetingID": "pw", "name": "P", "attendeePW": "x", "moderatorPW": "y"}
    )
    assert other.status == 200 and other.message_key == "idNotUnique"
    assert b"Please use a different meeting ID." in other.body
    bad = await fe.call("create", {"meetingID": "x", "name": "too short"})
    assert bad.message_key == "validationError"
    assert sum(len(n.meetings) for n in fleet) == 1
    listed = ET.fromstring((await fe.call("getMeetings")).body)
    assert [m.findtext("meetingID") for m in listed.iter("meeting")] == ["pw"]


async def test_duplicate_creates_through_two_instances_land_on_one_backend(
    db: Database,
    gateway: App,
    fleet: list[SimNode],
    ready: list[Backend],
    aiohttp_client: Callable[[web.Application], Awaitable[App]],
) -> None:
    second = Config(db_url=gateway.app[CONFIG].db_url, db_pool_size=8, run_controller=False)
    other = await aiohttp_client(create_app(second))
    fe1 = await frontend(db, gateway, "fe1")
    fe2 = FrontendClient(other, "fe1", "fe1-secret")
    calls = [
        client.call("create", {"meetingID": f"race-{i}", "name": "R"})
        for i in range(10)
        for client in (fe1, fe2, fe1, fe2)
    ]
    answers = await asyncio.gather(*calls)
    assert all(a.returncode == "SUCCESS" for a in answers)
    holders = Counter(meeting_id for node in fleet for meeting_id in node.meetings)
    assert len(holders) == 10 and set(holders.values()) == {1}


async def test_settings_shape_create_and_join(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(
        db,
        gateway,
        "fe1",
        default_presentation={"url": "https://cdn.example/welcome.pdf"},
        create_default_params={"maxParticipants": "50", "disabledFeatures": "chat,polls"},
        create_override_params={"record": "false"},
        join_override_params={"userdata-bbb_skip_check_audio": "true"},
    )
    created = await fe.call(
        "create",
        {"meetingID": "s1", "name": "S", "record": "true", "disabledFeatures": "polls,notes"},
    )
    assert created.returncode == "SUCCESS", created.body
    node = holder(fleet, "fe1", "s1")
    meeting = node.meetings[meeting_ids.encode("fe1", "s1")]
    assert meeting.presentations == ["https://cdn.example/welcome.pdf"]
    assert meeting.max_users == 50 and meeting.record is False
    join = await fe.call("join", {"meetingID": "s1", "fullName": "J", "role": "viewer"})
    assert join.location is not None
    assert parse_qs(urlsplit(join.location).query)["userdata-bbb_skip_check_audio"] == ["true"]
    own = b'<modules><module name="presentation"><document url="https://mine/x.pdf"/></module></modules>'
    await fe.call(
        "create",
        {"meetingID": "s2", "name": "S"},
        method="POST",
        body=own,
        content_type="application/xml",
    )
    meeting2 = holder(fleet, "fe1", "s2").meetings[meeting_ids.encode("fe1", "s2")]
    assert meeting2.presentations == ["https://mine/x.pdf"]


async def test_poll_finds_and_forgets_meetings(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fe.call("create", {"meetingID": "polled", "name": "P"})
    node = holder(fleet, "fe1", "polled")
    [backend] = [b for b in ready if b.host == node.api_url]
    # A user arrives at the node; the poll brings the count to getMeetings.
    encoded = meeting_ids.encode("fe1", "polled")
    join = await fe.call("join", {"meetingID": "polled", "fullName": "P", "role": "viewer"})
    async with gateway.session.get(join.location or "", allow_redirects=True):
        pass
    await gateway.app[CONTROLLER].poll(backend)
    refreshed = await backend_store.select_backend(db, backend.id)
    assert refreshed is not None
    assert (refreshed.meetings_count, refreshed.attendees_count) == (1, 1)
    assert b"<participantCount>1</participantCount>" in (await fe.call("getMeetings")).body
    # The node forgets the meeting (ended elsewhere); an old placement is removed by a poll.
    await db.execute("UPDATE meetings SET created_at = now() - interval '5 minutes'")
    del node.meetings[encoded]
    await gateway.app[CONTROLLER].poll(backend)
    assert (await fe.call("getMeetings")).message_key == "noMeetings"
    refreshed = await backend_store.select_backend(db, backend.id)
    assert refreshed is not None and refreshed.meetings_count == 0


async def test_unknown_elements_reach_the_frontend(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fe.call("create", {"meetingID": "future", "name": "F"})
    holder(fleet, "fe1", "future").future_elements = "<futureElement a='1'>x</futureElement>"
    info = await fe.call("getMeetingInfo", {"meetingID": "future"})
    assert b"<futureElement a='1'>x</futureElement>" in info.body
    assert info.text("meetingID") == "future"
    # getMeetings answers from the database; getMeetingInfo's answer is stored in the
    # background, right after it was forwarded.
    async with asyncio.timeout(5):
        while b"<futureElement a='1'>x</futureElement>" not in (await fe.call("getMeetings")).body:
            await asyncio.sleep(0.02)


async def test_reverse_proxy_mode_hands_over_a_relative_redirect(
    db: Database,
    gateway: App,
    sim: SimNode,
    aiohttp_client: Callable[[web.Application], Awaitable[App]],
) -> None:
    config = Config(
        db_url=gateway.app[CONFIG].db_url,
        db_pool_size=4,
        run_controller=False,
        reverse_proxy_mode=True,
    )
    proxied = await aiohttp_client(create_app(config))
    await add_backend(db, proxied, sim)
    await insert_frontend(db, "fe1", "fe1-secret")
    fe = FrontendClient(proxied, "fe1", "fe1-secret")
    await fe.call("create", {"meetingID": "rp", "name": "R"})
    join = await fe.call("join", {"meetingID": "rp", "fullName": "U", "role": "viewer"})
    assert join.status == 302 and join.location is not None
    assert join.location.startswith("/html5client/join?sessionToken=")
    assert join.location.endswith(f"&b3shost=127.0.0.1:{sim.port}")


async def test_an_oversized_body_gets_a_bbb_answer(db: Database, gateway: App) -> None:
    fe = await frontend(db, gateway, "fe1")
    huge = io.BytesIO(b"x" * (41 * 1024 * 1024))
    answer = await fe.call(
        "create",
        {"meetingID": "big", "name": "B"},
        method="POST",
        body=huge,
        content_type="application/xml",
    )
    assert answer.status == 413 and answer.message_key == "requestTooLarge"


async def test_get_meeting_info_is_stored_once_per_interval_off_the_request_path(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1")
    await fe.call("create", {"meetingID": "info", "name": "Info"})
    await db.execute("UPDATE meetings SET synced_at = NULL")

    async def synced() -> object:
        return await db.fetch_value("SELECT synced_at FROM meetings WHERE external_id = 'info'")

    answers = await asyncio.gather(
        *(fe.call("getMeetingInfo", {"meetingID": "info"}) for _ in range(20))
    )
    assert all(a.returncode == "SUCCESS" for a in answers)
    async with asyncio.timeout(5):  # written, in the background
        while (first := await synced()) is None:
            await asyncio.sleep(0.02)
    for _ in range(5):
        assert (await fe.call("getMeetingInfo", {"meetingID": "info"})).returncode == "SUCCESS"
    await asyncio.sleep(0.3)
    assert await synced() == first  # 25 answers, one write

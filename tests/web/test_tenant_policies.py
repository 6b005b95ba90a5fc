"""A frontend's policies through the gateway: limits, maxParticipants, meta_b3s-frontend and
cluster-unique voice bridges, with simulated nodes and the real database."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable

import aiohttp
from click.testing import CliRunner

from b3scale.bbb.request import Request
from b3scale.cli import main
from b3scale.cluster import meeting_ids
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.web.keys import CONTROLLER
from tests.support.cluster import App, frontend, holder
from tests.support.process import Serve


async def poll_all(gateway: App, db: Database) -> None:
    for backend in await backend_store.select_backends(db):
        await gateway.app[CONTROLLER].poll(backend)


def refusals(metrics: str, frontend_key: str, reason: str) -> float:
    pattern = (
        r"^b3scale_frontend_refusals_total\{(?=[^}]*frontend=\"" + re.escape(frontend_key) + r"\")"
        r"(?=[^}]*reason=\"" + reason + r"\")[^}]*\} (\S+)$"
    )
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found[1]) if found else 0.0


async def metrics_text(gateway: App) -> str:
    async with gateway.get("/metrics") as resp:
        return await resp.text()


async def test_meetings_limit_refuses_new_meetings_at_the_limit_and_admits_below(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1", meetings_limit={"limit": 2})
    other = await frontend(db, gateway, "fe2")
    for room in ("r1", "r2"):
        assert (await fe.call("create", {"meetingID": room, "name": "R"})).returncode == "SUCCESS"
    refused = await fe.call("create", {"meetingID": "r3", "name": "R"})
    assert (refused.status, refused.returncode, refused.message_key) == (
        200,
        "FAILED",
        "meetingsLimitReached",
    )
    assert not any(meeting_ids.encode("fe1", "r3") in n.meetings for n in fleet)
    # A repeated create of a meeting it has still succeeds; another tenant is not limited.
    assert (await fe.call("create", {"meetingID": "r1", "name": "R"})).returncode == "SUCCESS"
    for i in range(3):
        assert (await other.call("create", {"meetingID": f"o{i}"})).returncode == "SUCCESS"
    # One meeting ends: the frontend is below its limit again.
    assert (await fe.call("end", {"meetingID": "r1"})).returncode == "SUCCESS"
    assert (await fe.call("create", {"meetingID": "r3", "name": "R"})).returncode == "SUCCESS"
    assert (await fe.call("create", {"meetingID": "r4"})).message_key == "meetingsLimitReached"
    assert refusals(await metrics_text(gateway), "fe1", "meetingsLimitReached") == 2


async def test_meetings_limit_holds_under_simultaneous_creates(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1", meetings_limit={"limit": 5})
    answers = await asyncio.gather(
        *(fe.call("create", {"meetingID": f"rush-{i}", "name": "R"}) for i in range(30))
    )
    assert sorted(a.returncode for a in answers).count("SUCCESS") == 5
    assert {a.message_key for a in answers if a.returncode == "FAILED"} == {"meetingsLimitReached"}
    assert sum(len(n.meetings) for n in fleet) == 5


async def test_attendees_limit_counts_the_frontends_meetings_and_exempts_moderators(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1", attendees_limit={"limit": 3, "exempt_moderators": True})
    for room in ("ra", "rb"):
        created = await fe.call("create", {"meetingID": room, "name": "R", "moderatorPW": "mod-pw"})
        assert created.returncode == "SUCCESS", created.body

    async def arrive(room: str, name: str) -> None:
        join = await fe.call("join", {"meetingID": room, "fullName": name, "role": "viewer"})
        assert join.status == 302 and join.location
        async with gateway.session.get(join.location, allow_redirects=True) as resp:
            assert resp.status == 200

    # Three attendees in two meetings: the frontend's total reaches the limit.
    await arrive("ra", "one")
    await arrive("ra", "two")
    await arrive("rb", "three")
    await poll_all(gateway, db)
    page = await fe.call("join", {"meetingID": "rb", "fullName": "four", "role": "viewer"})
    assert page.status == 403 and page.content_type.startswith("text/html")
    assert b"try again later" in page.body and page.location is None
    api = await fe.call(
        "join", {"meetingID": "rb", "fullName": "four", "role": "viewer", "redirect": "false"}
    )
    assert (api.returncode, api.message_key) == ("FAILED", "attendeesLimitReached")
    # Moderators are exempt, by role or by the moderator password.
    for params in ({"role": "MODERATOR"}, {"password": "mod-pw"}):
        moderator = await fe.call("join", {"meetingID": "ra", "fullName": "M", **params})
        assert moderator.status == 302, params
    by_attendee_pw = await fe.call("join", {"meetingID": "ra", "fullName": "M", "password": "x"})
    assert by_attendee_pw.status == 403
    # Someone leaves: below the limit, joins are admitted again.
    node = holder(fleet, "fe1", "ra")
    encoded = meeting_ids.encode("fe1", "ra")
    first = next(iter(node.meetings[encoded].attendees))
    assert await node.leave(encoded, first)
    await poll_all(gateway, db)
    again = await fe.call("join", {"meetingID": "rb", "fullName": "four", "role": "viewer"})
    assert again.status == 302
    assert refusals(await metrics_text(gateway), "fe1", "attendeesLimitReached") == 3


async def test_max_participants_is_capped_and_every_create_names_its_frontend(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1", max_participants=10)
    cases = {"none": None, "zero": "0", "more": "500", "fewer": "4", "junk": "many"}
    for room, asked in cases.items():
        params = {"meetingID": room, "name": "R", "meta_b3s-frontend": "someone-else"}
        if asked is not None:
            params["maxParticipants"] = asked
        assert (await fe.call("create", params)).returncode == "SUCCESS", room
    seen = {}
    for room in cases:
        meeting = holder(fleet, "fe1", room).meetings[meeting_ids.encode("fe1", room)]
        seen[room] = meeting.max_users
        assert meeting.metadata["b3s-frontend"] == "fe1"
    assert seen == {"none": 10, "zero": 10, "more": 10, "fewer": 4, "junk": 10}


async def test_unique_voice_bridges_across_the_cluster(
    db: Database, gateway: App, fleet: list[SimNode], ready: list[Backend]
) -> None:
    fe = await frontend(db, gateway, "fe1", unique_voice_bridge=True)
    plain = await frontend(db, gateway, "fe2")
    # Another tenant's meeting (no uniqueness asked) holds 71234 on some node.
    assert (
        await plain.call("create", {"meetingID": "plain", "voiceBridge": "71234"})
    ).returncode == ("SUCCESS")
    await poll_all(gateway, db)
    answers = await asyncio.gather(
        *(fe.call("create", {"meetingID": f"dial-{i}", "name": "D"}) for i in range(100))
    )
    assert [a.returncode for a in answers].count("SUCCESS") == 100
    dial_ids = {meeting_ids.encode("fe1", f"dial-{i}") for i in range(100)}
    bridges = [
        m.voice_bridge for n in fleet for m in n.meetings.values() if m.meeting_id in dial_ids
    ]
    assert len(bridges) == 100 and len(set(bridges)) == 100 and "71234" not in bridges
    assert {a.text("voiceBridge") for a in answers} == set(bridges)
    # The frontend's own number: honoured when free, refused when another meeting has it.
    # (Free for sure: one of the 100 random numbers is 55555 once in 900 runs.)
    free = next(str(n) for n in range(55555, 99999) if str(n) not in bridges)
    own = await fe.call("create", {"meetingID": "own", "voiceBridge": free})
    assert (own.returncode, own.text("voiceBridge")) == ("SUCCESS", free)
    taken = await fe.call("create", {"meetingID": "taken", "voiceBridge": "71234"})
    assert (taken.returncode, taken.message_key) == ("FAILED", "voiceBridgeInUse")
    taken_by_own = await fe.call("create", {"meetingID": "again", "voiceBridge": bridges[0]})
    assert taken_by_own.message_key == "voiceBridgeInUse"
    # A repeated create of a meeting keeps its number.
    repeat = await fe.call("create", {"meetingID": "own"})
    assert repeat.text("voiceBridge") == free
    # Once a meeting has ended, its number is free again.
    assert (await fe.call("end", {"meetingID": "own"})).returncode == "SUCCESS"
    reused = await fe.call("create", {"meetingID": "own-2", "voiceBridge": free})
    assert reused.returncode == "SUCCESS"


# -- Through a real `b3scale serve`, set up with `b3scale ctl` as an operator does --------------

API_SECRET = "tenant-policies-api-secret-0123456789"
DOMAIN = "bbb.example.net"


def ctl(serve: Serve, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["ctl", *args],
        env={
            "B3SCALE_API_URL": serve.url,
            "B3SCALE_API_JWT_SECRET": API_SECRET,
            "B3SCALE_DB_URL": "unused",
            "B3SCALE_API_ACCESS_TOKEN": "",
        },
    )
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


async def bbb_call(
    serve: Serve, path: str, call: str, secret: str, host: str | None = None
) -> tuple[str, str]:
    """(returncode, messageKey) of a getMeetings-like call on ``path`` with ``Host: host``."""
    query = Request.build(call, {}).signed_query(secret)
    headers = {"Host": host} if host else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{serve.url}{path}{call}?{query}", headers=headers) as resp,
    ):
        assert resp.status == 200
        body = await resp.read()
    root = ET.fromstring(body)
    return root.findtext("returncode") or "", root.findtext("messageKey") or ""


async def test_host_named_frontends_and_a_secret_rollover_through_serve(
    db: Database, migrated_db_url: str, fleet: list[SimNode]
) -> None:
    with Serve(
        B3SCALE_DB_URL=migrated_db_url,
        B3SCALE_API_JWT_SECRET=API_SECRET,
        B3SCALE_TENANT_DOMAIN=DOMAIN,
    ) as serve:
        await asyncio.to_thread(serve.wait_healthy)

        async def run(*args: str) -> str:
            return await asyncio.to_thread(ctl, serve, *args)

        await run("set", "backend", "-s", fleet[0].secret, fleet[0].api_url)
        await run("set", "frontend", "-s", "old-secret", "moodle")
        by_host = f"moodle.{DOMAIN}"

        async def both(secret: str) -> set[tuple[str, str]]:
            """The answers by path and by host name (they must agree)."""
            return {
                await bbb_call(serve, "/bbb/moodle/bigbluebutton/api/", "getMeetings", secret),
                await bbb_call(serve, "/bigbluebutton/api/", "getMeetings", secret, by_host),
                await bbb_call(serve, "/bigbluebutton/api/", "getMeetings", secret, f"{by_host}:1"),
            }

        assert await both("old-secret") == {("SUCCESS", "noMeetings")}
        # Host names that name no frontend, or no tenant at all.
        for host in (f"nobody.{DOMAIN}", DOMAIN, "moodle.example.org", "127.0.0.1", "[::1]:8"):
            answer = await bbb_call(serve, "/bigbluebutton/api/", "getMeetings", "old-secret", host)
            assert answer == ("FAILED", "unknownFrontend"), host
        # The rollover: both secrets work, then only the new one.
        await asyncio.to_thread(
            ctl, serve, "set", "frontend", "--add-secret", "new-secret", "moodle"
        )
        shown = await asyncio.to_thread(ctl, serve, "show", "frontend", "moodle")
        assert "secret: new-secret" in shown and "also accepted" in shown
        await wait_for(lambda: both("new-secret"), {("SUCCESS", "noMeetings")})
        assert await both("old-secret") == {("SUCCESS", "noMeetings")}
        await run("set", "frontend", "--retire-secret", "old-secret", "moodle")
        await wait_for(lambda: both("old-secret"), {("FAILED", "checksumError")})
        assert await both("new-secret") == {("SUCCESS", "noMeetings")}
        serve.stop()
        assert "old-secret" not in serve.output and "new-secret" not in serve.output


async def wait_for(
    probe: Callable[[], Awaitable[object]], expected: object, timeout: float = 5
) -> None:
    """Instances see a changed frontend through a NOTIFY: at once, but not synchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await probe()) != expected:
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)

"""The background controller: polls, health hysteresis, leases across instances, retiring."""

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient

from b3scale.cluster.controller import Controller, ControllerSettings
from b3scale.cluster.services import Services
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.keys import CONTROLLER, HTTP_SESSION, RETRY_KEY
from tests.support.bbbclient import FrontendClient

App = TestClient[web.Request, web.Application]


async def test_health_has_hysteresis(db: Database, gateway: App, sim: SimNode) -> None:
    controller = gateway.app[CONTROLLER]
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    assert backend.node_state == "init" and not backend.healthy
    assert await controller.poll(backend)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.node_state == "ready" and state.healthy
    assert state.latency > 0 and state.synced_at is not None

    sim.faults.mode = "http500"
    assert not await controller.poll(backend)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.node_state == "ready"  # one failure is not enough
    assert state.last_error and "500" in state.last_error
    assert not await controller.poll(backend)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.node_state == "error" and not state.healthy

    sim.faults.mode = None
    assert await controller.poll(backend)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.node_state == "error"  # one success is not enough
    assert await controller.poll(backend)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.node_state == "ready" and state.last_error is None


async def test_a_failed_answer_counts_as_a_failed_poll(
    db: Database, gateway: App, sim: SimNode
) -> None:
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    sim.faults.mode = "failed"
    assert not await gateway.app[CONTROLLER].poll(backend)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.node_state == "error"


async def test_poll_leases_split_backends_between_instances(
    db: Database, gateway: App, fleet: list[SimNode]
) -> None:
    for node in fleet:
        await backend_store.insert_backend(db, node.api_url, node.secret)
    services = Services(db, gateway.app[HTTP_SESSION], gateway.app[RETRY_KEY])
    first = Controller(services, ControllerSettings(poll_interval=30))
    second = Controller(services, ControllerSettings(poll_interval=30))
    polled = await asyncio.gather(first.poll_due(), second.poll_due())
    hosts = [b.host for batch in polled for b in batch]
    assert sorted(hosts) == sorted(n.api_url for n in fleet)  # each exactly once
    assert await first.poll_due() == [] and await second.poll_due() == []
    assert all(n.calls == ["getMeetings"] for n in fleet)


async def test_request_poll_wakes_the_running_controller(
    db: Database, gateway: App, sim: SimNode
) -> None:
    controller = gateway.app[CONTROLLER]
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    await controller.poll_due()  # leased for 10 s now
    sim.calls.clear()
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        await asyncio.sleep(0.3)
        assert sim.calls == []
        await backend_store.request_poll(db, backend.id)
        async with asyncio.timeout(5):
            while not sim.calls:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)  # stops by itself, without a cancel


async def test_decommissioned_backend_goes_when_its_last_meeting_ends(
    db: Database, gateway: App, sim: SimNode
) -> None:
    controller = gateway.app[CONTROLLER]
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    await controller.poll(backend)
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    await fe.call("create", {"meetingID": "busy", "name": "B"})
    join = await fe.call("join", {"meetingID": "busy", "fullName": "U", "role": "viewer"})
    async with gateway.session.get(join.location or "", allow_redirects=True):
        pass
    await backend_store.set_admin_state(db, backend.id, "decommissioned")
    assert (await fe.call("create", {"meetingID": "new", "name": "N"})).message_key == (
        "noBackendAvailable"
    )
    assert await controller.poll(backend)
    assert await backend_store.select_backend(db, backend.id) is not None  # still running
    await fe.call("end", {"meetingID": "busy"})
    assert await controller.poll(backend)
    assert await backend_store.select_backend(db, backend.id) is None


async def test_join_with_redirect_false_answers_bbb_xml(
    db: Database, gateway: App, sim: SimNode
) -> None:
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    await gateway.app[CONTROLLER].poll(backend)
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    await fe.call("create", {"meetingID": "xml-join", "name": "X"})
    answer = await fe.call(
        "join", {"meetingID": "xml-join", "fullName": "U", "role": "viewer", "redirect": "false"}
    )
    assert answer.status == 200 and answer.message_key == "successfullyJoined"
    assert answer.text("url").startswith(sim.url + "/html5client/join?sessionToken=")


async def test_a_poll_writes_only_the_meetings_that_changed(
    db: Database, gateway: App, sim: SimNode
) -> None:
    controller = gateway.app[CONTROLLER]
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    assert await controller.poll(backend)
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    for room in ("quiet", "busy"):
        assert (await fe.call("create", {"meetingID": room, "name": room})).returncode == "SUCCESS"
    assert await controller.poll(backend)  # the first sight of both: written

    async def synced() -> dict[str, object]:
        rows = await db.fetch_all("SELECT external_id, synced_at FROM meetings")
        return {r["external_id"]: r["synced_at"] for r in rows}

    before = await synced()
    assert await controller.poll(backend)
    assert await synced() == before  # nothing changed on the node: nothing written
    join = await fe.call("join", {"meetingID": "busy", "fullName": "Ann", "role": "VIEWER"})
    async with gateway.session.get(join.location or "") as resp:
        assert resp.status == 200  # Ann arrives in the meeting
    assert await controller.poll(backend)
    after = await synced()
    assert after["quiet"] == before["quiet"] and after["busy"] != before["busy"]
    count = await db.fetch_value("SELECT attendees_count FROM meetings WHERE external_id = 'busy'")
    assert count == 1


async def test_now_and_then_a_poll_rewrites_every_meeting(
    db: Database, gateway: App, sim: SimNode
) -> None:
    """A row another writer got wrong is put right by the backend's next full write, which
    comes about every ``full_sync_interval`` (spread between backends), not at every poll."""
    services = Services(db, gateway.app[HTTP_SESSION], gateway.app[RETRY_KEY])
    controller = Controller(services, ControllerSettings(full_sync_interval=2.0))
    backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
    assert await controller.poll(backend)  # healthy
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    assert (await fe.call("create", {"meetingID": "room", "name": "Room"})).returncode == "SUCCESS"
    assert await controller.poll(backend)
    await db.execute("UPDATE meetings SET attendees_count = 42")  # wrong, and the node unchanged
    assert await controller.poll(backend)
    assert await db.fetch_value("SELECT attendees_count FROM meetings") == 42  # not due yet
    await asyncio.sleep(2.1)
    assert await controller.poll(backend)
    assert await db.fetch_value("SELECT attendees_count FROM meetings") == 0


async def test_a_backend_with_a_reporting_agent_is_polled_less_often(db: Database) -> None:
    plain = await backend_store.insert_backend(db, "http://plain/bigbluebutton/api/", "s")
    agent = await backend_store.insert_backend(db, "http://agent/bigbluebutton/api/", "s")
    await db.execute("UPDATE backends SET agent_heartbeat = now() WHERE id = %s", (agent.id,))
    claimed = await backend_store.claim_due_polls(db, 10, 60)
    assert {b.id for b in claimed} == {plain.id, agent.id}
    rows = await db.fetch_all(
        "SELECT id, extract(epoch FROM poll_lease_until - now()) AS left FROM backends"
    )
    lease = {r["id"]: float(r["left"]) for r in rows}
    assert 9 < lease[plain.id] <= 10 and 59 < lease[agent.id] <= 60
    assert await backend_store.claim_due_polls(db, 10, 60) == []  # both leased

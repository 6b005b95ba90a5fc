"""The node agent with real Redis and PostgreSQL, fed by a simulated node's events."""

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from b3scale.agent.agent import NodeAgent
from b3scale.agent.links import DatabaseLink
from b3scale.bbb.client import BackendClient
from b3scale.cluster import meeting_ids
from b3scale.sim import events as sim_events
from b3scale.sim.events import CHANNEL
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.keys import CONTROLLER
from tests.support.bbbclient import FrontendClient
from tests.support.process import clean_env
from tests.support.services import RedisServer

App = TestClient[web.Request, web.Application]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


@pytest.fixture
async def node(redis_server: RedisServer) -> AsyncIterator[SimNode]:
    sim = SimNode(secret="node-secret", redis_url=redis_server.url)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def backend(db: Database, gateway: App, node: SimNode) -> Backend:
    registered = await backend_store.insert_backend(db, node.api_url, node.secret)
    await gateway.app[CONTROLLER].poll(registered)
    return registered


@asynccontextmanager
async def running_agent(
    db: Database, node: SimNode, backend_id: UUID, redis_url: str
) -> AsyncIterator[NodeAgent]:
    """The node agent for ``backend_id``, subscribed to Redis, stopped afterwards."""
    async with aiohttp.ClientSession() as http:
        running = NodeAgent(
            DatabaseLink(db, backend_id),
            BackendClient(http, node.api_url, node.secret),
            redis_url,
            heartbeat_interval=0.2,
        )
        task = asyncio.create_task(running.run())
        await asyncio.wait_for(running.subscribed.wait(), 5)
        try:
            yield running
        finally:
            running.stop()
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def agent(
    db: Database, backend: Backend, node: SimNode, redis_server: RedisServer
) -> AsyncIterator[NodeAgent]:
    async with running_agent(db, node, backend.id, redis_server.url) as running:
        yield running


async def meeting_counts(db: Database, external_id: str) -> tuple[int, int, bool] | None:
    row = await db.fetch_one(
        "SELECT attendees_count, moderators_count, running FROM meetings WHERE external_id = %s",
        (external_id,),
    )
    return (row["attendees_count"], row["moderators_count"], row["running"]) if row else None


async def arrive_on_node(client: BackendClient, node: SimNode, meeting_id: str) -> None:
    """A user joins on the node itself (not through b3scale) and arrives."""
    from b3scale.bbb.request import Request

    answer = await client.call(
        Request.build(
            "join",
            {"meetingID": meeting_id, "fullName": "U", "role": "viewer", "redirect": "false"},
        )
    )
    token = answer.body.split(b"<session_token>")[1].split(b"<")[0].decode()
    assert await node.complete_join(token) is not None


async def join(fe: FrontendClient, gateway: App, meeting: str, name: str, role: str) -> None:
    answer = await fe.call("join", {"meetingID": meeting, "fullName": name, "role": role})
    assert answer.status == 302 and answer.location, (answer.status, answer.body)
    async with gateway.session.get(answer.location or "", allow_redirects=True) as resp:
        assert resp.status == 200


async def test_heartbeat_makes_the_backend_agent_managed(
    db: Database, backend: Backend, agent: NodeAgent
) -> None:
    async def fresh() -> bool:
        state = await backend_store.select_backend(db, backend.id)
        return state is not None and state.agent_heartbeat is not None and state.healthy

    await eventually(fresh)


async def test_a_heartbeat_alone_makes_an_unpolled_backend_healthy_for_5_s(
    db: Database, node: SimNode, redis_server: RedisServer
) -> None:
    unpolled = await backend_store.insert_backend(db, node.api_url, node.secret)
    state = await backend_store.select_backend(db, unpolled.id)
    assert state is not None and state.node_state == "init" and not state.healthy

    async def healthy() -> bool:
        current = await backend_store.select_backend(db, unpolled.id)
        return current is not None and current.healthy and current.agent_heartbeat is not None

    async with running_agent(db, node, unpolled.id, redis_server.url):
        await eventually(healthy)

    # A crashed agent leaves its last heartbeat behind: healthy while it is younger than 5 s.
    for age, expected in ((4, True), (6, False)):
        await db.execute(
            "UPDATE backends SET agent_heartbeat = now() - make_interval(secs => %s) WHERE id = %s",
            (age, unpolled.id),
        )
        current = await backend_store.select_backend(db, unpolled.id)
        assert current is not None and current.healthy is expected, age


async def test_joins_leaves_and_end_follow_the_events(
    db: Database, gateway: App, node: SimNode, backend: Backend, agent: NodeAgent
) -> None:
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    await fe.call("create", {"meetingID": "live", "name": "Live"})
    await join(fe, gateway, "live", "Mod", "moderator")
    await asyncio.gather(*(join(fe, gateway, "live", f"U{i}", "viewer") for i in range(20)))

    async def all_in() -> bool:
        return await meeting_counts(db, "live") == (21, 1, True)

    await eventually(all_in, 10.0)  # how fast: a benchmark question, not a test
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and state.attendees_count == 21

    meeting = node.meetings[meeting_ids.encode("fe", "live")]
    leaving = [a for a in meeting.attendees.values() if a.role == "VIEWER"][:5]
    await asyncio.gather(*(node.leave(meeting.meeting_id, a.internal_id) for a in leaving))

    async def five_left() -> bool:
        return await meeting_counts(db, "live") == (16, 1, True)

    await eventually(five_left, 2.0)
    await fe.call("end", {"meetingID": "live"})

    async def gone() -> bool:
        return await meeting_counts(db, "live") is None

    await eventually(gone)
    state = await backend_store.select_backend(db, backend.id)
    assert state is not None and (state.meetings_count, state.attendees_count) == (0, 0)


async def test_a_repeated_join_is_counted_once(
    db: Database,
    gateway: App,
    node: SimNode,
    backend: Backend,
    agent: NodeAgent,
    redis_server: RedisServer,
) -> None:
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    await fe.call("create", {"meetingID": "twice", "name": "T"})
    await join(fe, gateway, "twice", "Ann", "viewer")
    meeting = node.meetings[meeting_ids.encode("fe", "twice")]
    attendee = next(iter(meeting.attendees.values()))
    publisher = aioredis.from_url(redis_server.url)
    try:
        # Counted before anything is published: the three joins and the leave must all have
        # been applied (in order, one subscriber) before the counts are read.
        applied_before = agent.applied
        for _ in range(3):
            await publisher.publish(CHANNEL, json.dumps(sim_events.user_joined(meeting, attendee)))
        await publisher.publish(CHANNEL, "garbage that is not JSON")
        await publisher.publish(CHANNEL, json.dumps(sim_events.user_left(meeting, attendee)))

        async def left() -> bool:
            return agent.applied >= applied_before + 4

        await eventually(left)
    finally:
        await publisher.aclose()
    assert await meeting_counts(db, "twice") == (0, 0, True)


async def test_a_meeting_announced_before_the_create_answer_is_kept(
    db: Database, gateway: App, node: SimNode, backend: Backend, agent: NodeAgent
) -> None:
    # Created on the node directly (as if the create answer had not been stored yet).
    await insert_frontend(db, "fe", "s")
    client = BackendClient(gateway.session, node.api_url, node.secret)
    from b3scale.bbb.request import Request

    encoded = meeting_ids.encode("fe", "early")
    await client.call(Request.build("create", {"meetingID": encoded, "name": "Early"}))
    await arrive_on_node(client, node, encoded)

    async def known() -> bool:
        return await meeting_counts(db, "early") == (1, 0, True)

    await eventually(known)
    row = await db.fetch_one(
        "SELECT frontend_id, internal_id FROM meetings WHERE id = %s", (encoded,)
    )
    assert row is not None and row["frontend_id"] is not None
    assert row["internal_id"] == node.meetings[encoded].internal_id


async def test_survives_a_redis_restart_and_resyncs(
    db: Database,
    gateway: App,
    node: SimNode,
    backend: Backend,
    agent: NodeAgent,
    redis_server: RedisServer,
) -> None:
    await insert_frontend(db, "fe", "s")
    fe = FrontendClient(gateway, "fe", "s")
    created = await fe.call("create", {"meetingID": "room-r", "name": "R"})
    assert created.returncode == "SUCCESS", created.body
    redis_server.stop()
    await asyncio.sleep(0.3)
    # Meanwhile two users arrive; their events are lost (nobody listens).
    await join(fe, gateway, "room-r", "A", "viewer")
    await join(fe, gateway, "room-r", "B", "viewer")
    redis_server.start()
    await asyncio.wait_for(agent.subscribed.wait(), 15)

    async def resynced() -> bool:
        counts = await meeting_counts(db, "room-r")
        return counts is not None and counts[0] == 2

    await eventually(resynced, 15)
    await join(fe, gateway, "room-r", "C", "viewer")

    async def three() -> bool:
        counts = await meeting_counts(db, "room-r")
        return counts is not None and counts[0] == 3

    await eventually(three)


def properties(node: SimNode, redis: RedisServer, tmp: Path) -> Path:
    path = tmp / "bbb-web.properties"
    path.write_text(
        "# test node\nserver.domain=127.0.0.1\n"
        f"bigbluebutton.web.serverURL=http://${{server.domain}}:{node.port}\n"
        f"securitySalt={node.secret}\nredisHost=127.0.0.1\nredisPort={redis.port}\n"
    )
    return path


async def test_noded_command_registers_and_stops_cleanly(
    db: Database, migrated_db_url: str, node: SimNode, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = properties(node, redis_server, tmp_path)
    env = clean_env(
        B3SCALE_DB_URL=migrated_db_url,
        BBB_CONFIG=str(config),
        B3SCALE_LOAD_FACTOR="2.5",
        B3SCALE_LOG_FORMAT="plain",
        B3SCALE_LOG_LEVEL="debug",
    )
    unknown = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "b3scale", "noded", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await unknown.communicate()
    assert unknown.returncode == 1 and b"start noded with -register" in err

    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "b3scale",
        "noded",
        "-register",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )

    async def registered() -> bool:
        backend = await backend_store.select_backend_by_host(db, node.api_url)
        return backend is not None and backend.agent_heartbeat is not None

    await eventually(registered, 15)
    backend = await backend_store.select_backend_by_host(db, node.api_url)
    assert backend is not None
    assert (backend.admin_state, backend.load_factor, backend.secret) == ("init", 2.5, node.secret)
    agent.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(agent.communicate(), 15)
    assert agent.returncode == 0, err
    assert b"Traceback" not in err
    assert node.secret.encode() not in err  # debug level: the node's secret is never logged
    signed_off = await backend_store.select_backend(db, backend.id)
    assert signed_off is not None and signed_off.agent_heartbeat is None


async def test_noded_configuration_errors(migrated_db_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.properties"
    broken.write_text("bigbluebutton.web.serverURL=https://x\n")
    cases = [
        ({"BBB_CONFIG": str(broken), "B3SCALE_DB_URL": migrated_db_url}, "securitySalt is missing"),
        ({"BBB_CONFIG": str(tmp_path / "nope"), "B3SCALE_DB_URL": migrated_db_url}, "not found"),
        ({"BBB_CONFIG": str(broken)}, "needs B3SCALE_API_ACCESS_TOKEN"),
    ]
    for extra, message in cases:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "b3scale",
            "noded",
            env=clean_env(**extra),
            stderr=asyncio.subprocess.PIPE,
            cwd=str(tmp_path),
        )
        _, err = await proc.communicate()
        assert proc.returncode == 2, err
        assert message.encode() in err and b"Traceback" not in err


async def test_survives_a_database_outage_and_resyncs(
    node: SimNode, redis_server: RedisServer
) -> None:
    import shutil
    import tempfile

    from b3scale.bbb.request import Request
    from b3scale.store.embedded import LocalCluster
    from b3scale.store.migrate import migrate
    from tests.support.services import free_port

    root = Path(tempfile.mkdtemp(prefix="b3scale-test-outage-", dir="/tmp"))
    root.chmod(0o755)
    cluster = LocalCluster(root, tcp_port=free_port(), durable=False)
    cluster.start()
    db = await Database.connect(cluster.admin_dsn, 4)
    try:
        await migrate(db)
        backend = await backend_store.insert_backend(db, node.api_url, node.secret)
        async with aiohttp.ClientSession() as http:
            client = BackendClient(http, node.api_url, node.secret)
            agent = NodeAgent(
                DatabaseLink(db, backend.id), client, redis_server.url, heartbeat_interval=0.2
            )
            task = asyncio.create_task(agent.run())
            await asyncio.wait_for(agent.subscribed.wait(), 5)
            meeting_id = meeting_ids.encode("fe", "outage")
            await client.call(Request.build("create", {"meetingID": meeting_id, "name": "O"}))

            async def arrive() -> None:
                await arrive_on_node(client, node, meeting_id)

            await arrive()

            async def count(n: int) -> bool:
                try:
                    row = await db.fetch_one(
                        "SELECT attendees_count FROM meetings WHERE external_id = 'outage'"
                    )
                except Exception:
                    return False
                return row is not None and row["attendees_count"] == n

            await eventually(lambda: count(1))
            cluster.stop()  # PostgreSQL goes away; these joins' events cannot be stored
            await arrive()
            await arrive()
            await asyncio.sleep(0.5)
            cluster.start()
            await eventually(lambda: count(3), timeout=20)
            agent.stop()
            await asyncio.wait_for(task, 10)
    finally:
        await db.close()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

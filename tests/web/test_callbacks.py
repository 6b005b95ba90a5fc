"""Callbacks through the balancer, end to end: simulated nodes call b3scale, b3scale calls a
receiver standing in for the frontend (Greenlight, Moodle), over real HTTP."""

import asyncio
import json
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import aiohttp
import jwt
import pytest
from aiohttp import web
from click.testing import CliRunner
from jwt.warnings import InsecureKeyLengthWarning

from b3scale.cli import main
from b3scale.cluster import meeting_ids, tokens
from b3scale.config import Config
from b3scale.sim.node import SimNode
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from b3scale.web.app import create_app
from tests.support.bbbclient import FrontendClient
from tests.support.cluster import App, add_backend
from tests.support.services import free_port

FRONTEND_SECRET = "frontend-secret-0123456789abcdef"
API_SECRET = "api-secret-for-the-callback-tests-0123456789"


@dataclass
class Receiver:
    """The frontend's callback endpoints: records every call."""

    port: int = field(default_factory=free_port)
    calls: list[tuple[str, str, dict[str, list[str]], dict[str, str], bytes]] = field(
        default_factory=list
    )
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        async def record(request: web.Request) -> web.Response:
            self.calls.append(
                (
                    request.method,
                    request.path,
                    parse_qs(request.query_string),
                    dict(request.headers),
                    await request.read(),
                )
            )
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def at(self, path: str) -> list[tuple[str, dict[str, list[str]], dict[str, str], bytes]]:
        return [(m, q, h, b) for m, p, q, h, b in self.calls if p == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    yield running
    await running.stop()


Start = Callable[[], Awaitable[App]]


@pytest.fixture
def start_instance(
    db: Database,
    migrated_db_url: str,
    aiohttp_client: Callable[..., Awaitable[App]],
) -> Start:
    """b3scale instances on one database, each at its own public URL, delivering callbacks."""

    async def start() -> App:
        port = free_port()
        config = Config(
            db_url=migrated_db_url,
            db_pool_size=4,
            public_url=f"http://127.0.0.1:{port}",
            poll_interval=300,
            api_jwt_secret=API_SECRET,
        )
        return await aiohttp_client(create_app(config), server_kwargs={"port": port})

    return start


def callback_params(receiver: Receiver) -> dict[str, str]:
    return {
        "meetingID": "room-1",
        "name": "Lecture",
        "record": "true",
        "meetingEndedURL": f"{receiver.url}/ended?room=1",
        "meta_endCallbackUrl": f"{receiver.url}/end?room=1",
        "meta_bbb-recording-ready-url": f"{receiver.url}/recording-ready",
        "meta_analytics-callback-url": f"{receiver.url}/analytics",
    }


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def verify(token: str, algorithm: str) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.decode(
            token, FRONTEND_SECRET, algorithms=[algorithm], options={"verify_exp": False}
        )


async def meeting_with_callbacks(
    db: Database, start_instance: Start, sim: SimNode, receiver: Receiver, record: str = "true"
) -> tuple[App, FrontendClient]:
    """An instance, the node as its backend, frontend "fe", and room-1 created through it with
    every callback URL pointing at ``receiver``."""
    instance = await start_instance()
    await add_backend(db, instance, sim)
    await insert_frontend(db, "fe", FRONTEND_SECRET, {})
    fe = FrontendClient(instance, "fe", FRONTEND_SECRET)
    params = {**callback_params(receiver), "record": record}
    assert (await fe.call("create", params)).returncode == "SUCCESS"
    return instance, fe


async def test_end_recording_and_analytics_reach_the_frontend_as_its_own(
    db: Database, start_instance: Start, sim: SimNode, receiver: Receiver
) -> None:
    await receiver.start()
    instance, fe = await meeting_with_callbacks(db, start_instance, sim, receiver)

    on_node = sim.meetings[meeting_ids.encode("fe", "room-1")]
    public = str(instance.make_url("/b3s/callback/"))
    assert on_node.ended_url.startswith(public)
    for name in ("endcallbackurl", "bbb-recording-ready-url", "analytics-callback-url"):
        assert on_node.metadata[name].startswith(public)  # the node never sees the frontend

    assert (await fe.call("end", {"meetingID": "room-1"})).returncode == "SUCCESS"
    await until(lambda: len(receiver.calls) == 4)
    await asyncio.sleep(1.5)  # nothing more arrives (delivered once)
    assert len(receiver.calls) == 4

    [(method, query, _, _)] = receiver.at("/end")
    assert method == "GET"
    assert query == {"room": ["1"], "recordingmarks": ["true"], "meetingID": ["room-1"]}
    [(method, query, _, _)] = receiver.at("/ended")
    assert (method, query) == ("GET", {"room": ["1"]})

    [(method, _, headers, body)] = receiver.at("/recording-ready")
    assert method == "POST" and headers["Content-Type"] == "application/x-www-form-urlencoded"
    claims = verify(parse_qs(body.decode())["signed_parameters"][0], "HS256")
    assert claims == {"meeting_id": "room-1", "record_id": on_node.internal_id}

    [(method, _, headers, body)] = receiver.at("/analytics")
    assert method == "POST" and json.loads(body)["meeting_id"] == "room-1"
    scheme, _, bearer = headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and "exp" in verify(bearer, "HS512")  # the algorithm Moodle wants


async def test_delivered_once_after_an_outage_a_restart_and_with_two_instances(
    db: Database, start_instance: Start, sim: SimNode, receiver: Receiver
) -> None:
    first, fe = await meeting_with_callbacks(db, start_instance, sim, receiver, record="false")
    assert (await fe.call("end", {"meetingID": "room-1"})).returncode == "SUCCESS"

    await until_failed_once(db, 3)  # the receiver is down: the first attempts fail
    rows = await db.fetch_all("SELECT state, last_error FROM callbacks")
    assert len(rows) == 3 and all(r["state"] == "pending" and r["last_error"] for r in rows)

    await first.close()  # serve restarts ...
    await start_instance()  # ... as two instances
    await start_instance()
    await receiver.start()  # and the frontend is back
    await until(lambda: len(receiver.calls) == 3, timeout=20)
    await asyncio.sleep(2.5)
    assert sorted(path for _, path, *_ in receiver.calls) == ["/analytics", "/end", "/ended"]
    states = await db.fetch_all("SELECT state, attempts FROM callbacks ORDER BY id")
    assert [s["state"] for s in states] == ["delivered"] * 3


def path_of(url: str) -> str:
    return "/b3s" + url.split("/b3s", 1)[1]


async def test_forged_altered_and_foreign_callbacks_are_refused(
    db: Database, start_instance: Start, sim: SimNode, receiver: Receiver
) -> None:
    await receiver.start()
    instance, _ = await meeting_with_callbacks(db, start_instance, sim, receiver)
    other = await insert_frontend(db, "other", "other-secret", {})
    on_node = sim.meetings[meeting_ids.encode("fe", "room-1")]
    end_url = on_node.metadata["endcallbackurl"]
    token = end_url.rsplit("/", 1)[1]

    payload, _, signature = token.partition(".")
    altered = tokens.sign(b"not-the-cluster-key", "callback", {"f": str(other.id), "m": "x"})
    other_meeting = meeting_ids.encode("other", "room-1")
    recording = jwt.encode(
        {"meeting_id": on_node.meeting_id, "record_id": "r"}, "not-the-node-secret" * 2
    )
    refused = [
        ("GET", "/b3s/callback/garbage", {}, None),
        ("GET", f"/b3s/callback/{payload}x.{signature}", {}, None),
        ("GET", f"/b3s/callback/{altered}", {}, None),
        ("GET", f"/b3s/callback/{token}", {"meetingID": other_meeting}, None),
        ("GET", f"/b3s/callback/{token}", {"meetingID": meeting_ids.encode("fe", "room-2")}, None),
        (
            "POST",
            path_of(on_node.metadata["bbb-recording-ready-url"]),
            {},
            {"signed_parameters": recording},
        ),
        ("GET", "/b3s/callback/" + "a" * 20000, {}, None),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path, query, form in refused:
            async with http.request(
                method, str(instance.make_url(path)), params=query, data=form
            ) as resp:
                assert resp.status == 404, path[:80]
        # For a frontend that was deleted meanwhile, a genuine token is refused too.
        await db.execute("DELETE FROM frontends WHERE key = 'fe'")
        async with http.get(end_url, params={"meetingID": on_node.meeting_id}) as resp:
            assert resp.status == 404
    assert await db.fetch_value("SELECT count(*) FROM callbacks") == 0
    assert receiver.calls == []


async def test_without_a_public_url_callbacks_go_to_the_frontend_as_before(
    db: Database, gateway: App, sim: SimNode, receiver: Receiver
) -> None:
    await add_backend(db, gateway, sim)
    await insert_frontend(db, "fe", FRONTEND_SECRET, {})
    fe = FrontendClient(gateway, "fe", FRONTEND_SECRET)
    assert (await fe.call("create", callback_params(receiver))).returncode == "SUCCESS"
    on_node = sim.meetings[meeting_ids.encode("fe", "room-1")]
    assert on_node.metadata["endcallbackurl"] == f"{receiver.url}/end?room=1"


async def test_operators_see_pending_deliveries_in_ctl_and_the_api(
    db: Database, start_instance: Start, sim: SimNode, receiver: Receiver
) -> None:
    # The receiver is never started: the deliveries wait.
    instance, fe = await meeting_with_callbacks(db, start_instance, sim, receiver, record="false")
    assert (await fe.call("end", {"meetingID": "room-1"})).returncode == "SUCCESS"
    await until_failed_once(db, 3)

    base = str(instance.make_url("")).rstrip("/")
    env = {"B3SCALE_API_URL": base, "B3SCALE_API_JWT_SECRET": API_SECRET, "B3SCALE_DB_URL": "x"}
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["ctl", "show", "callbacks"], env=env
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "FRONTEND",
        "KIND",
        "STATE",
        "ATTEMPTS",
        "NEXT_ATTEMPT",
        "LAST_ERROR",
        "URL",
    ]
    assert sorted(line.split()[2] for line in lines[1:]) == ["analytics", "end", "end"]
    assert all(" pending " in line and receiver.url in line for line in lines[1:])
    assert "room=1" not in result.stdout  # frontends' query strings may hold tokens

    user = {"Authorization": f"Bearer {sign_token(API_SECRET, 'u', 'b3scale', 60)}"}
    async with instance.get("/api/v1/callbacks", headers=user) as resp:
        assert resp.status == 403
    admin = {"Authorization": f"Bearer {sign_token(API_SECRET, 'a', 'b3scale:admin', 60)}"}
    async with instance.get("/api/v1/callbacks?state=delivered", headers=admin) as resp:
        assert (resp.status, await resp.json()) == (200, [])
    async with instance.get("/api/v1/callbacks?state=bogus", headers=admin) as resp:
        assert resp.status == 400


async def until_failed_once(db: Database, count: int) -> None:
    """Until ``count`` callbacks are queued and each has failed once (recorded)."""
    async with asyncio.timeout(10):
        while not await db.fetch_value(
            "SELECT count(*) = %s AND bool_and(last_error IS NOT NULL) FROM callbacks", (count,)
        ):
            await asyncio.sleep(0.05)

"""``b3scale noded`` in API mode, as an operator runs it: a real ``serve``, a real Redis, a
simulated node publishing BBB's events, the agent holding a b3scale:node token and no database
URL."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from b3scale.bbb.client import BackendClient
from b3scale.bbb.request import Request
from b3scale.cluster import meeting_ids
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from tests.agent.test_agent import arrive_on_node, meeting_counts, properties
from tests.support.process import Serve, clean_env, run_b3scale
from tests.support.services import RedisServer

SECRET = "agent-api-secret-0123456789-abcdefghij"
ADMIN = sign_token(SECRET, "admin", "b3scale:admin", 600)


def api(serve: Serve, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{serve.url}/api/v1{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


async def until(check: Any, timeout: float, what: str) -> float:
    """Seconds until ``check()`` held; fails naming ``what`` after ``timeout``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def gateway_call(serve: Serve, call: str, params: dict[str, str]) -> bytes:
    query = Request.build(call, params).signed_query("fe-secret")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{serve.url}/bbb/fe/bigbluebutton/api/{call}?{query}") as resp,
    ):
        return await resp.read()


async def test_an_agent_with_a_node_token_reports_through_serve_and_outlives_its_restarts(
    db: Database, migrated_db_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    node = SimNode(secret="node-secret", redis_url=redis_server.url)
    await node.start()
    serve_env = {"B3SCALE_DB_URL": migrated_db_url, "B3SCALE_API_JWT_SECRET": SECRET}
    serve = Serve(port=None, **serve_env)
    noded: asyncio.subprocess.Process | None = None
    try:
        await asyncio.to_thread(serve.wait_healthy)
        made = await asyncio.to_thread(
            run_b3scale,
            "ctl",
            "auth",
            "authorize_node_agent",
            "--ref",
            "bbb-one",
            B3SCALE_API_JWT_SECRET=SECRET,
        )
        assert made.returncode == 0 and "bbb-one" in made.stderr, made.stderr
        token = made.stdout.strip()
        env = clean_env(
            BBB_CONFIG=str(properties(node, redis_server, tmp_path)),
            B3SCALE_API_URL=serve.url,
            B3SCALE_API_ACCESS_TOKEN=token,
            B3SCALE_LOG_FORMAT="plain",
        )
        assert not any("DB_URL" in k for k in env)
        noded = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "b3scale", "noded", "-register", env=env,
            stderr=asyncio.subprocess.PIPE, cwd=str(tmp_path),
        )  # fmt: skip

        async def registered() -> bool:
            found = await backend_store.select_backend_by_host(db, node.api_url)
            return found is not None and found.agent_heartbeat is not None

        await until(registered, 15, "the agent registers its node")
        backend = await backend_store.select_backend_by_host(db, node.api_url)
        assert backend is not None
        assert (backend.admin_state, backend.agent_ref) == ("init", "bbb-one")
        status, _ = api(serve, "PATCH", f"/backends/{backend.id}", ADMIN, {"admin_state": "ready"})
        assert status == 200

        async def healthy() -> bool:
            found = await backend_store.select_backend(db, backend.id)
            return bool(found and found.healthy)

        await until(healthy, 5, "the node turns healthy")

        # The token reaches its own backend and nothing else.
        status, own = api(serve, "GET", "/agent/backend", token)
        assert status == 200 and own["id"] == str(backend.id)
        status, other = api(
            serve, "POST", "/backends", ADMIN, {"bbb": {"host": "https://other/", "secret": "x"}}
        )
        assert status == 201
        for method, path, body in (
            ("GET", "/frontends", None),
            ("GET", "/backends", None),
            ("GET", f"/backends/{other['id']}", None),
            ("PATCH", f"/backends/{other['id']}", {"bbb": {"secret": "stolen"}}),
            ("DELETE", f"/backends/{other['id']}", None),
            ("GET", "/meetings", None),
        ):
            status, answer = api(serve, method, path, token, body)
            assert (status, answer["error"]) == (403, "invalid_credentials"), (method, path)
        assert api(serve, "GET", f"/backends/{other['id']}", ADMIN)[1]["bbb"]["secret"] == "x"

        # 21 simultaneous joins, counted through the API.
        await insert_frontend(db, "fe", "fe-secret")
        assert b"SUCCESS" in await gateway_call(serve, "create", {"meetingID": "live"})
        encoded = meeting_ids.encode("fe", "live")
        async with aiohttp.ClientSession() as http:
            client = BackendClient(http, node.api_url, node.secret)
            await asyncio.gather(*(arrive_on_node(client, node, encoded) for _ in range(21)))

            async def counted(n: int) -> Any:
                async def check() -> bool:
                    counts = await meeting_counts(db, "live")
                    return counts is not None and counts[0] == n

                return check

            await until(await counted(21), 2, "21 joins counted")
            meeting = node.meetings[encoded]
            for attendee in list(meeting.attendees)[:5]:
                await node.leave(encoded, attendee)
            await until(await counted(16), 2, "5 leaves applied")

            # serve is down for 10 s while events keep coming; they arrive when it is back.
            assert b"SUCCESS" in await gateway_call(serve, "create", {"meetingID": "second"})
            second = meeting_ids.encode("fe", "second")
            assert serve.stop() == 0
            for _ in range(3):
                await asyncio.gather(*(arrive_on_node(client, node, second) for _ in range(4)))
                await asyncio.sleep(10 / 3)
            for attendee in list(meeting.attendees)[:6]:
                await node.leave(encoded, attendee)
        serve.__exit__(None, None, None)
        serve = Serve(port=serve.port, **serve_env)
        await asyncio.to_thread(serve.wait_healthy)

        async def caught_up() -> bool:
            return (await meeting_counts(db, "live") or (0,))[0] == 10 and (
                await meeting_counts(db, "second") or (0,)
            )[0] == 12

        await until(caught_up, 5, "the counts after serve's return")
        # The meeting ends: the agent's events remove it.
        assert b"SUCCESS" in await gateway_call(serve, "end", {"meetingID": "live"})

        async def ended() -> bool:
            return await meeting_counts(db, "live") is None

        await until(ended, 5, "the end applied")
        noded.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(noded.communicate(), 15)
        assert noded.returncode == 0, err
        assert b"Traceback" not in err and token.encode() not in err
        assert b"the cluster's API does not answer" in err
    finally:
        if noded is not None and noded.returncode is None:
            noded.kill()
            await noded.wait()
        serve.__exit__(None, None, None)
        await node.close()


async def test_a_refused_token_stops_the_agent_with_one_line(
    db: Database, migrated_db_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    node = SimNode(secret="node-secret", redis_url=redis_server.url)
    await node.start()
    try:
        with Serve(B3SCALE_DB_URL=migrated_db_url, B3SCALE_API_JWT_SECRET=SECRET) as serve:
            await asyncio.to_thread(serve.wait_healthy)
            for token, words in (
                (sign_token("another-secret-0123456789abcdef", "x", "b3scale:node", None), b"401"),
                (sign_token(SECRET, "x", "b3scale:node", -10), b"expired"),
                (sign_token(SECRET, "x", "b3scale", None), b"403"),
            ):
                done = await asyncio.to_thread(
                    run_b3scale,
                    "noded",
                    "-register",
                    BBB_CONFIG=str(properties(node, redis_server, tmp_path)),
                    B3SCALE_API_URL=serve.url,
                    B3SCALE_API_ACCESS_TOKEN=token,
                )
                lines = done.stderr.strip().splitlines()
                assert done.returncode == 1, done.stderr
                assert "Traceback" not in done.stderr and words.decode() in lines[-1], lines
    finally:
        await node.close()

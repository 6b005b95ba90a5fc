"""The REST API with real tokens and a real database."""

import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from jwt.warnings import InsecureKeyLengthWarning

from b3scale.config import Config
from b3scale.sim.node import SimNode
from b3scale.store.db import Database
from b3scale.web.api.docs import METHODS
from b3scale.web.app import create_app
from b3scale.web.keys import COMMANDS, CONTROLLER

App = TestClient[web.Request, web.Application]
SECRET = "fooo"


def token(
    scope: str = "b3scale b3scale:admin",
    sub: str = "123456789",
    alg: str = "HS256",
    key: str = SECRET,
    **claims: Any,
) -> str:
    with warnings.catch_warnings():  # the seed README's key "fooo" is short on purpose
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode({"sub": sub, "scope": scope, **claims}, key, algorithm=alg)


ADMIN = {"Authorization": f"Bearer {token()}"}


def user(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('b3scale', sub)}"}


async def call(
    api: App,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    status: int = 200,
) -> Any:
    async with api.request(
        method, path, headers=ADMIN if headers is None else headers, json=body
    ) as resp:
        data = await resp.json()
        assert resp.status == status, data
        return data


async def test_the_seed_readme_token_is_accepted(api: App) -> None:
    # TOKEN=`pyjwt --key=fooo encode sub="123456789" scope="b3scale b3scale:admin"`: HS256
    me = await call(api, "GET", "/api/v1")
    assert me == {
        "version": me["version"],
        "build": "",
        "api": "v1",
        "account_ref": "123456789",
        "is_admin": True,
    }


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_algorithms(api: App, alg: str) -> None:
    await call(api, "GET", "/api/v1", {"Authorization": f"Bearer {token(alg=alg)}"})


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Basic abc"}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {token(key='wrong')}"}, 401, "invalid_token"),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode({"sub": "x", "scope": "b3scale:admin"}, None, algorithm="none")
            },
            401,
            "invalid_token",
        ),
        ({"Authorization": f"Bearer {token(exp=int(time.time()) - 10)}"}, 401, "token_expired"),
        (
            {"Authorization": f"Bearer {token(nbf=int(time.time()) + 600)}"},
            401,
            "token_not_yet_valid",
        ),
        ({"Authorization": f"Bearer {token(scope='other')}"}, 403, "invalid_credentials"),
        ({"Authorization": "Bearer not.a.jwt"}, 401, "invalid_token"),
    ],
)
async def test_bad_tokens(api: App, headers: dict[str, str], status: int, error: str) -> None:
    data = await call(api, "GET", "/api/v1", headers, status=status)
    assert data["error"] == error and data["message"]


async def test_api_is_off_without_a_secret(
    db: Database,
    migrated_db_url: str,
    aiohttp_client: Callable[[web.Application], Awaitable[App]],
) -> None:
    off = await aiohttp_client(create_app(Config(db_url=migrated_db_url, run_controller=False)))
    async with off.get("/api/v1", headers=ADMIN) as resp:
        assert resp.status == 404


async def test_frontends_crud_and_merge(api: App) -> None:
    created = await call(
        api,
        "POST",
        "/api/v1/frontends",
        body={
            "bbb": {"key": "frontend1", "secret": "s1"},
            "settings": {
                "required_tags": ["asdf"],
                "default_presentation": {"url": "u", "force": True},
                "custom": {"kept": 1},
            },
        },
        status=201,
    )
    fid = created["id"]
    assert created["bbb"] == {"key": "frontend1", "secret": "s1", "secrets": ["s1"]}
    assert created["active"]
    patched = await call(
        api,
        "PATCH",
        f"/api/v1/frontends/{fid}",
        body={"settings": {"required_tags": None, "default_presentation": {"url": "v"}}},
    )
    assert patched["settings"] == {
        "default_presentation": {"url": "v", "force": True},
        "custom": {"kept": 1},
    }
    assert patched["bbb"]["secret"] == "s1"
    arrays = await call(
        api,
        "PATCH",
        f"/api/v1/frontends/{fid}",
        body={"settings": {"required_tags": ["a", "b"]}, "bbb": {"secret": "s2"}},
    )
    arrays = await call(
        api, "PATCH", f"/api/v1/frontends/{fid}", body={"settings": {"required_tags": ["c"]}}
    )
    assert arrays["settings"]["required_tags"] == ["c"] and arrays["bbb"] == {
        "key": "frontend1",
        "secret": "s2",
        "secrets": ["s2"],
    }
    listed = await call(api, "GET", "/api/v1/frontends?key=frontend1")
    assert [f["id"] for f in listed] == [fid]
    assert await call(api, "GET", "/api/v1/frontends?key__like=ontend") == listed
    deleted = await call(api, "DELETE", f"/api/v1/frontends/{fid}")
    assert deleted["active"] is False
    await call(api, "GET", f"/api/v1/frontends/{fid}", status=404)
    await call(api, "GET", "/api/v1/frontends/not-a-uuid", status=404)


async def test_frontend_validation_and_conflicts(api: App) -> None:
    bad = await call(api, "POST", "/api/v1/frontends", body={"bbb": {"key": ""}}, status=400)
    assert bad["error"] == "validation_error"
    assert set(bad["fields"]) == {"bbb.key", "bbb.secret"}
    await call(
        api, "POST", "/api/v1/frontends", body={"bbb": {"key": "k", "secret": "s"}}, status=201
    )
    dup = await call(
        api, "POST", "/api/v1/frontends", body={"bbb": {"key": "k", "secret": "t"}}, status=409
    )
    assert dup["error"] == "conflict"
    async with api.post("/api/v1/frontends", headers=ADMIN, data=b"{not json") as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    not_object = await call(api, "POST", "/api/v1/frontends", body=[1], status=400)
    assert not_object["error"] == "invalid_json"


async def test_users_see_only_their_own_frontends(api: App) -> None:
    mine = await call(
        api,
        "POST",
        "/api/v1/frontends",
        user("alice"),
        {"bbb": {"key": "alice-1", "secret": "s"}, "account_ref": "mallory"},
        status=201,
    )
    assert mine["account_ref"] == "alice"
    theirs = await call(
        api,
        "POST",
        "/api/v1/frontends",
        user("bob"),
        {"bbb": {"key": "bob-1", "secret": "s"}},
        status=201,
    )
    assert [
        f["bbb"]["key"] for f in await call(api, "GET", "/api/v1/frontends", user("alice"))
    ] == ["alice-1"]
    await call(api, "GET", f"/api/v1/frontends/{theirs['id']}", user("alice"), status=404)
    await call(
        api,
        "PATCH",
        f"/api/v1/frontends/{theirs['id']}",
        user("alice"),
        {"settings": {}},
        status=404,
    )
    await call(api, "DELETE", f"/api/v1/frontends/{theirs['id']}", user("alice"), status=404)
    changed = await call(
        api,
        "PATCH",
        f"/api/v1/frontends/{mine['id']}",
        user("alice"),
        {"account_ref": "bob", "settings": {"x": 1}},
    )
    assert changed["account_ref"] == "alice" and changed["settings"] == {"x": 1}
    assert len(await call(api, "GET", "/api/v1/frontends")) == 2  # admin sees all
    denied = await call(api, "GET", "/api/v1/backends", user("alice"), status=403)
    assert denied["error"] == "forbidden"


async def test_backends_crud(api: App, sim: SimNode) -> None:
    created = await call(
        api,
        "POST",
        "/api/v1/backends",
        body={
            "bbb": {"host": sim.url, "secret": sim.secret},
            "settings": {"tags": ["asdf"]},
            "load_factor": 2.25,
        },
        status=201,
    )
    bid = created["id"]
    assert created["bbb"]["host"] == sim.api_url  # normalised
    assert created["admin_state"] == "ready" and created["load_factor"] == 2.25
    listed = await call(api, "GET", f"/api/v1/backends?host={sim.url}/")
    assert [b["id"] for b in listed] == [bid]
    await api.app[CONTROLLER].poll_due()  # the POST asked for a poll
    shown = await call(api, "GET", f"/api/v1/backends/{bid}")
    assert shown["node_state"] == "ready" and shown["healthy"] and shown["synced_at"]
    patched = await call(
        api,
        "PATCH",
        f"/api/v1/backends/{bid}",
        body={
            "settings": {"tags": ["asdf", "foo", "bar"]},
            "admin_state": "stopped",
            "node_state": "error",
            "meetings_count": 99,
        },
    )
    assert patched["settings"] == {"tags": ["asdf", "foo", "bar"]}
    assert patched["admin_state"] == "stopped" and patched["node_state"] == "ready"
    assert patched["meetings_count"] == 0
    bad = await call(
        api,
        "PATCH",
        f"/api/v1/backends/{bid}",
        body={"admin_state": "sideways", "load_factor": 0, "bbb": {"host": "ftp://x"}},
        status=400,
    )
    assert set(bad["fields"]) == {"admin_state", "load_factor", "bbb.host"}
    await call(
        api,
        "POST",
        "/api/v1/backends",
        body={"bbb": {"host": sim.api_url, "secret": "x"}},
        status=409,
    )
    decommissioned = await call(api, "DELETE", f"/api/v1/backends/{bid}")
    assert decommissioned["admin_state"] == "decommissioned"
    assert (await call(api, "GET", f"/api/v1/backends/{bid}"))["admin_state"] == "decommissioned"
    destroyed = await call(api, "DELETE", f"/api/v1/backends/{bid}?force=true")
    assert destroyed["admin_state"] == "destroyed"
    await call(api, "GET", f"/api/v1/backends/{bid}", status=404)


async def test_meetings_and_end_all(api: App, sim: SimNode, db: Database) -> None:
    from tests.support.bbbclient import FrontendClient

    backend = await call(
        api,
        "POST",
        "/api/v1/backends",
        body={"bbb": {"host": sim.api_url, "secret": sim.secret}},
        status=201,
    )
    await api.app[CONTROLLER].poll_due()
    fe = await call(
        api, "POST", "/api/v1/frontends", body={"bbb": {"key": "fe", "secret": "s"}}, status=201
    )
    client = FrontendClient(api, "fe", "s")
    for i in range(3):
        assert (await client.call("create", {"meetingID": f"m{i}", "name": "M"})).returncode == (
            "SUCCESS"
        )
    by_backend = await call(api, "GET", f"/api/v1/meetings?backend_id={backend['id']}")
    by_host = await call(api, "GET", f"/api/v1/meetings?backend_host={sim.url}")
    by_frontend = await call(api, "GET", f"/api/v1/meetings?frontend_id={fe['id']}")
    assert by_backend == by_host == by_frontend
    assert sorted(m["meeting_id"] for m in by_backend) == ["m0", "m1", "m2"]
    one = await call(api, "GET", f"/api/v1/meetings/{by_backend[0]['id']}")
    assert one["meeting_id"] == by_backend[0]["meeting_id"] and one["internal_id"]
    ended = await call(api, "DELETE", f"/api/v1/meetings/{by_backend[0]['id']}")
    assert ended["id"] == by_backend[0]["id"] and len(sim.meetings) == 2
    await call(api, "GET", "/api/v1/meetings?backend_host=https://nowhere/", status=404)
    await call(api, "DELETE", "/api/v1/meetings", status=400)
    command = await call(api, "DELETE", f"/api/v1/meetings?backend_id={backend['id']}", status=202)
    assert command["action"] == "end_all_meetings" and command["state"] == "requested"
    ran = await api.app[COMMANDS].run_pending()
    assert [str(c.id) for c in ran] == [command["id"]]
    done = await call(api, "GET", f"/api/v1/commands/{command['id']}")
    assert done["state"] == "success" and done["result"] == {"ended": 2, "failed": 0}
    assert not sim.meetings
    assert await call(api, "GET", f"/api/v1/meetings?backend_id={backend['id']}") == []


async def test_status(api: App) -> None:
    status = await call(api, "GET", "/api/v1/status")
    assert status["database"]["available"] and status["database"]["migrated"]
    assert status["database"]["pending_migrations"] == []


async def test_openapi_covers_every_route(api: App) -> None:
    """The served document names exactly the operations the app routes (real answers are held
    to it by the schema-driven test, test_openapi_schema.py)."""
    async with api.get("/api/v1/openapi.json") as resp:
        assert resp.status == 200
        document = await resp.json()
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }
    served = set()
    for route in api.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/v1") and route.method != "HEAD":
            served.add((route.method, path))
    for subapp_route in [r for r in api.app.router.resources() if hasattr(r, "_app")]:
        for route in subapp_route._app.router.routes():
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter") or ""
            if route.method != "HEAD":
                served.add((route.method, path))
    assert served == documented, (served - documented, documented - served)
    async with api.get("/api/v1/docs") as resp:
        page = await resp.text()
        assert resp.status == 200 and "/api/v1/backends/{id}" in page


async def test_frontend_secrets_for_a_rollover(api: App) -> None:
    created = await call(
        api,
        "POST",
        "/api/v1/frontends",
        body={"bbb": {"key": "roll", "secrets": ["new", "old"]}},
        status=201,
    )
    assert created["bbb"] == {"key": "roll", "secret": "new", "secrets": ["new", "old"]}
    path = f"/api/v1/frontends/{created['id']}"
    # secret names the current one among secrets; secrets alone: the first is current.
    both = await call(
        api, "PATCH", path, body={"bbb": {"secret": "old", "secrets": ["new", "old"]}}
    )
    assert both["bbb"]["secret"] == "old" and both["bbb"]["secrets"] == ["old", "new"]
    # A secret alone replaces every secret (what a client that knows no rollover means).
    alone = await call(api, "PATCH", path, body={"bbb": {"secret": "only"}})
    assert alone["bbb"]["secrets"] == ["only"]
    for bad, field in (
        ({"secrets": ["a", "b", "c"]}, "bbb.secrets"),
        ({"secrets": []}, "bbb.secrets"),
        ({"secret": "x", "secrets": ["a", "b"]}, "bbb.secrets"),
        ({"secrets": ["ok", "with space"]}, "bbb.secrets[1]"),
        ({"secrets": "ab"}, "bbb.secrets"),
    ):
        answer = await call(api, "PATCH", path, body={"bbb": bad}, status=400)
        assert answer["error"] == "validation_error" and field in answer["fields"], bad
    assert (await call(api, "GET", path))["bbb"]["secrets"] == ["only"]
    limits = await call(
        api,
        "PATCH",
        path,
        body={"settings": {"attendees_limit": {"limit": "ten"}, "max_participants": 0}},
        status=400,
    )
    assert set(limits["fields"]) == {"settings.attendees_limit.limit", "settings.max_participants"}

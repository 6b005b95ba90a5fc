"""``/api/v1/agent/...`` with a node agent's token: its own backend only, hostile bodies
refused with JSON errors, events applied in order and idempotently."""

from __future__ import annotations

import io
from typing import Any

from b3scale.store import backends as backend_store
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from tests.support.cluster import App
from tests.web.conftest import API_SECRET


def node_token(ref: str = "bbb-one", scope: str = "b3scale:node") -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_token(API_SECRET, ref, scope, 600)}"}


async def call(
    api: App, method: str, path: str, headers: dict[str, str], body: Any = None, **kw: Any
) -> tuple[int, Any]:
    async with api.request(method, f"/api/v1{path}", headers=headers, json=body, **kw) as resp:
        return resp.status, await resp.json()


ANNOUNCE = {"host": "https://bbb1.example.net/", "secret": "node-secret", "register": True}


async def test_registration_binds_the_backend_to_the_token(db: Database, api: App) -> None:
    status, answer = await call(api, "GET", "/agent/backend", node_token())
    assert (status, answer["error"]) == (404, "not_registered")
    status, answer = await call(
        api, "PUT", "/agent/backend", node_token(), {**ANNOUNCE, "register": False}
    )
    assert (status, answer["error"]) == (404, "not_registered")
    status, created = await call(api, "PUT", "/agent/backend", node_token(), ANNOUNCE)
    assert status == 201 and created["admin_state"] == "init"
    assert (created["agent_ref"], created["bbb"]["host"]) == (
        "bbb-one",
        "https://bbb1.example.net/bigbluebutton/api/",
    )
    # Announced again (a restart): the same backend; a changed secret is taken.
    status, again = await call(
        api, "PUT", "/agent/backend", node_token(), {**ANNOUNCE, "secret": "rotated"}
    )
    assert status == 200 and again["id"] == created["id"] and again["bbb"]["secret"] == "rotated"
    # The token cannot claim another host, nor can another agent take this one.
    status, answer = await call(
        api, "PUT", "/agent/backend", node_token(), {**ANNOUNCE, "host": "https://other/"}
    )
    assert (status, answer["error"]) == (409, "conflict")
    status, answer = await call(api, "PUT", "/agent/backend", node_token("intruder"), ANNOUNCE)
    assert (status, answer["error"]) == (409, "conflict")
    backend = await backend_store.select_backend_by_agent_ref(db, "bbb-one")
    assert backend is not None and backend.secret == "rotated"
    # Tokens of users and admins are not node agents.
    for headers in (node_token(scope="b3scale"), node_token(scope="b3scale:admin")):
        status, answer = await call(api, "POST", "/agent/heartbeat", headers)
        assert (status, answer["error"]) == (403, "forbidden")


async def test_events_are_applied_in_order_and_idempotently(db: Database, api: App) -> None:
    await call(api, "PUT", "/agent/backend", node_token(), ANNOUNCE)
    await insert_frontend(db, "fe", "s")
    created = {
        "event": "meeting_created",
        "meeting_id": "plain-meeting",
        "internal_id": "int-1",
        "name": "M",
        "is_breakout": False,
        "parent_id": None,
        "create_time": 1,
    }

    def joined(user: str) -> dict[str, Any]:
        return {
            "event": "user_joined",
            "internal_id": "int-1",
            "internal_user_id": user,
            "user_id": user,
            "full_name": user,
            "role": "VIEWER",
            "client_type": "HTML5",
        }

    batch = [created, joined("u1"), joined("u2"), joined("u3")]
    batch.append({"event": "user_left", "internal_id": "int-1", "internal_user_id": "u2"})
    for _ in range(2):  # sent twice (a lost answer): nothing changes the second time
        status, answer = await call(api, "POST", "/agent/events", node_token(), {"events": batch})
        assert status == 200 and answer == {"applied": 5, "unknown": 0}
        count = await db.fetch_value(
            "SELECT attendees_count FROM meetings WHERE id = 'plain-meeting'"
        )
        assert count == 2
    status, answer = await call(
        api,
        "POST",
        "/agent/events",
        node_token(),
        {"events": [{**joined("x"), "internal_id": "nope"}]},
    )
    assert answer == {"applied": 1, "unknown": 1}


async def test_hostile_agent_bodies_get_json_errors(db: Database, api: App) -> None:
    await call(api, "PUT", "/agent/backend", node_token(), ANNOUNCE)
    cases: list[tuple[Any, str]] = [
        ({"events": "all"}, "events"),
        ({"events": [{"event": "user_exploded"}]}, "events[0].event"),
        (
            {"events": [{"event": "user_left", "internal_id": 5, "internal_user_id": "u"}]},
            "events[0].internal_id",
        ),
        ({"events": [{"event": "user_left", "internal_id": "i"}]}, "events[0].internal_user_id"),
        (
            {
                "events": [
                    {"event": "user_left", "internal_id": "i", "internal_user_id": "u", "x": 1}
                ]
            },
            "events[0]",
        ),
        (
            {"events": [{"event": "meeting_ended", "internal_id": "i" * 300}]},
            "events[0].internal_id",
        ),
        ({"events": [{"event": "meeting_ended", "internal_id": "i"}] * 1001}, "events"),
    ]
    for body, field in cases:
        status, answer = await call(api, "POST", "/agent/events", node_token(), body)
        assert status == 400 and answer["error"] == "validation_error", body
        assert any(f.startswith(field) for f in answer["fields"]), (field, answer["fields"])
    for raw, code in ((b"\xff\xfe", "invalid_json"), (b'{"events": ["\\u0000"]}', "invalid_json")):
        status, answer = await call(
            api, "POST", "/agent/events", node_token(), None, data=raw,
        )  # fmt: skip
        assert (status, answer["error"]) == (400, code)
    big = b'{"events": [' + b'"x",' * 400_000 + b'"x"]}'
    status, answer = await call(
        api, "POST", "/agent/events", node_token(), None, data=io.BytesIO(big)
    )
    assert (status, answer["error"]) == (413, "request_too_large")
    for body in (b"", b"<response><returncode>FAILED</returncode></response>",
                 b"<response><returncode>SUCCESS</returncode><meetings><meeting>"):  # fmt: skip
        status, answer = await call(api, "POST", "/agent/resync", node_token(), None, data=body)
        assert (status, answer["error"]) == (400, "validation_error"), body

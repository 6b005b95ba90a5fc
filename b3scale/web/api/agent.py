"""``/api/v1/agent/...``: what a node agent (``b3scale noded`` in API mode) may do.

A node agent's token has the scope ``b3scale:node`` and its ``sub`` is the agent's reference;
every endpoint here acts on the one backend bound to that reference and on nothing else, so a
compromised BBB server can misreport its own meetings but cannot read or change tenants,
secrets or other backends.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from b3scale.agent.reports import apply_event
from b3scale.agent.wire import EVENT_SCHEMAS, event_from_json
from b3scale.bbb import parse
from b3scale.cluster.hosts import normalize_host
from b3scale.cluster.sync import sync_backend_meetings
from b3scale.store import backends as store
from b3scale.store import node_events
from b3scale.store.backends import Backend
from b3scale.store.db import UniqueViolation
from b3scale.web.api import inputs, schema
from b3scale.web.api.auth import require_node
from b3scale.web.api.body import json_object, read_body
from b3scale.web.api.common import db, json_response
from b3scale.web.api.errors import ApiError, validation_error
from b3scale.web.api.shapes import backend_json

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

#: Events one request may carry (the agent sends a batch every fraction of a second).
MAX_EVENTS = 1000
#: An event batch: 1,000 events of a few hundred bytes.
MAX_EVENTS_BODY = 1024 * 1024
#: A node's getMeetings answer for a resync: 1,000 meetings of a few KiB each, and margin.
MAX_RESYNC_BODY = 32 * 1024 * 1024


async def own_backend(request: web.Request) -> Backend:
    ref = require_node(request)
    backend = await store.select_backend_by_agent_ref(db(request), ref)
    if backend is None:
        raise ApiError(
            404,
            "not_registered",
            "no backend is bound to this agent; start noded with -register, or bind the "
            "existing backend: b3scale ctl set backend --agent-ref <ref> <host>",
        )
    return backend


@routes.get("/agent/backend")
async def show_own_backend(request: web.Request) -> web.Response:
    return json_response(backend_json(await own_backend(request)))


@routes.put("/agent/backend")
async def register_own_backend(request: web.Request) -> web.Response:
    """Announce the node: its API URL, secret and load factor; ``register`` creates the
    backend (admin state ``init``: an operator enables it) when none is bound to the agent."""
    ref = require_node(request)
    data = await json_object(request)
    errors = schema.validate(data, inputs.AGENT_BACKEND)
    host = data.get("host")
    if "host" not in errors and isinstance(host, str):
        try:
            host = normalize_host(host)
        except ValueError:
            errors["host"] = ["must be an http:// or https:// URL"]
    if errors:
        raise validation_error(errors)
    assert isinstance(host, str)
    secret: str = data["secret"]
    load_factor = float(data.get("load_factor", 1.0))
    database = db(request)
    backend = await store.select_backend_by_agent_ref(database, ref)
    status = 200
    if backend is None:
        if not data.get("register", False):
            raise ApiError(
                404,
                "not_registered",
                f"the backend {host} is not registered for this agent; start noded with "
                "-register (then enable it: b3scale ctl enable backend " + host + ")",
            )
        try:
            backend = await store.insert_backend(
                database, host, secret, admin_state="init", load_factor=load_factor, agent_ref=ref
            )
        except UniqueViolation:
            raise ApiError(
                409,
                "conflict",
                f"a backend {host} exists already and is not bound to this agent; an admin "
                f"binds it: b3scale ctl set backend --agent-ref {ref} {host}",
            ) from None
        log.info("node agent registered its backend", extra={"backend": host, "agent": ref})
        await store.request_poll(database, backend.id)
        status = 201
    elif backend.host != host:
        raise ApiError(
            409,
            "conflict",
            f"this agent is bound to the backend {backend.host}, not {host}",
        )
    elif await node_events.update_agent_fields(database, backend.id, secret, load_factor):
        log.warning("a node agent changed its backend's secret", extra={"backend": host})
    refreshed = await store.select_backend(database, backend.id)
    assert refreshed is not None
    return json_response(backend_json(refreshed), status)


@routes.post("/agent/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    backend = await own_backend(request)
    if not await node_events.heartbeat(db(request), backend.id):
        raise ApiError(404, "not_registered", "the backend of this agent was deleted")
    return json_response(
        {"backend_id": str(backend.id), "heartbeat": datetime.now(UTC).isoformat()}
    )


@routes.delete("/agent/heartbeat")
async def sign_off(request: web.Request) -> web.Response:
    """The agent stops on purpose: polls alone judge the node until it is back."""
    backend = await own_backend(request)
    await node_events.sign_off(db(request), backend.id)
    return json_response({"backend_id": str(backend.id), "heartbeat": None})


@routes.post("/agent/events")
async def events(request: web.Request) -> web.Response:
    """A batch of BBB events, applied in order; idempotent, so a batch sent again after a
    lost answer changes nothing. ``unknown``: joins for meetings not known (a resync is due)."""
    backend = await own_backend(request)
    data = await json_object(request, MAX_EVENTS_BODY)
    batch = data.get("events")
    if not isinstance(batch, list) or len(batch) > MAX_EVENTS:
        raise validation_error({"events": [f"must be an array of at most {MAX_EVENTS} events"]})
    errors: dict[str, list[str]] = {}
    parsed = []
    for index, item in enumerate(batch):
        kind = item.get("event") if isinstance(item, dict) else None
        shape = EVENT_SCHEMAS.get(kind) if isinstance(kind, str) else None
        if shape is None:
            errors[f"events[{index}].event"] = ["must be one of " + ", ".join(EVENT_SCHEMAS)]
            continue
        errors.update(schema.validate(item, shape, f"events[{index}]"))
        if not errors:
            parsed.append(event_from_json(item))
    if errors:
        raise validation_error(errors)
    applied = unknown = 0
    for event in parsed:
        known = await apply_event(db(request), backend.id, event)
        applied += 1
        unknown += not known
    return json_response({"applied": applied, "unknown": unknown})


@routes.post("/agent/resync")
async def resync(request: web.Request) -> web.Response:
    """The node's own getMeetings answer (XML): what events may have missed."""
    backend = await own_backend(request)
    started_at = datetime.now(UTC)
    body = await read_body(request, MAX_RESYNC_BODY)
    if parse.returncode(body) != "SUCCESS" or not parse.well_formed(body):
        # A cut or failed answer must not read as "no meetings" (which would drop them all).
        raise validation_error({"body": ["must be the node's successful getMeetings answer"]})
    removed = await sync_backend_meetings(db(request), backend.id, body, started_at)
    return json_response({"backend_id": str(backend.id), "removed": removed})

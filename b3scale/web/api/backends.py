"""``/api/v1/backends``: BBB nodes (admin only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from b3scale.cluster.hosts import normalize_host
from b3scale.store import backends as store
from b3scale.store import meetings as meeting_store
from b3scale.store.backends import Backend
from b3scale.store.db import UniqueViolation
from b3scale.web.api import inputs, schema
from b3scale.web.api.auth import require_admin
from b3scale.web.api.body import json_object
from b3scale.web.api.common import db, json_response, path_uuid
from b3scale.web.api.errors import ApiError, not_found, validation_error
from b3scale.web.api.merge import merge_patch
from b3scale.web.api.shapes import backend_json

routes = web.RouteTableDef()

PATCHABLE = ("bbb", "settings", "admin_state", "load_factor", "checksum_algorithm", "agent_ref")
TRUE_WORDS = ("1", "true", "yes")


def validate(data: dict[str, Any]) -> dict[str, list[str]]:
    """Checks ``data`` against the schema and normalises its host in place."""
    errors = schema.validate(data, inputs.BACKEND)
    if "bbb.host" not in errors and isinstance(data.get("bbb"), dict):
        try:
            data["bbb"]["host"] = normalize_host(data["bbb"]["host"])
        except ValueError:
            errors["bbb.host"] = ["must be an http:// or https:// URL"]
    return errors


async def load(request: web.Request) -> Backend:
    require_admin(request)
    backend = await store.select_backend(db(request), path_uuid(request, "backend"))
    if backend is None:
        raise not_found("backend")
    return backend


def conflict() -> ApiError:
    return ApiError(409, "conflict", "a backend with this host exists already")


@routes.get("/backends")
async def list_backends(request: web.Request) -> web.Response:
    require_admin(request)
    host = request.query.get("host")
    if host:
        try:
            host = normalize_host(host)
        except ValueError:
            raise validation_error({"host": ["must be an http:// or https:// URL"]}) from None
    found = await store.select_backends_filtered(
        db(request), host=host, host_like=request.query.get("host__like")
    )
    return json_response([backend_json(b) for b in found])


@routes.post("/backends")
async def create_backend(request: web.Request) -> web.Response:
    require_admin(request)
    data = await json_object(request)
    errors = validate(data)
    if errors:
        raise validation_error(errors)
    try:
        created = await store.insert_backend(
            db(request),
            data["bbb"]["host"],
            data["bbb"]["secret"],
            settings=data.get("settings") or {},
            admin_state=data.get("admin_state", "ready"),
            load_factor=float(data.get("load_factor", 1.0)),
            checksum_algorithm=data.get("checksum_algorithm", "sha256"),
            agent_ref=data.get("agent_ref"),
        )
    except UniqueViolation:
        raise conflict() from None
    await store.request_poll(db(request), created.id)
    return json_response(backend_json(created), 201)


@routes.get("/backends/{id}")
async def show_backend(request: web.Request) -> web.Response:
    return json_response(backend_json(await load(request)))


@routes.patch("/backends/{id}")
async def update_backend(request: web.Request) -> web.Response:
    current = await load(request)
    patch = await json_object(request)
    shape = backend_json(current)
    merged = merge_patch(
        {k: shape[k] for k in PATCHABLE}, {k: v for k, v in patch.items() if k in PATCHABLE}
    )
    merged.setdefault("settings", {})
    errors = validate(merged)
    if errors:
        raise validation_error(errors)
    try:
        updated = await store.update_backend(
            db(request),
            current.id,
            host=merged["bbb"]["host"],
            secret=merged["bbb"]["secret"],
            settings=merged["settings"],
            admin_state=merged.get("admin_state", current.admin_state),
            load_factor=float(merged.get("load_factor", current.load_factor)),
            checksum_algorithm=merged.get("checksum_algorithm", current.checksum_algorithm),
        )
        agent_ref = merged.get("agent_ref")
        if updated is not None and agent_ref != current.agent_ref:
            await store.bind_agent_ref(db(request), current.id, agent_ref)
            updated = await store.select_backend(db(request), current.id)
    except UniqueViolation:
        raise ApiError(
            409, "conflict", "a backend with this host or agent_ref exists already"
        ) from None
    if updated is None:
        raise not_found("backend")
    await store.request_poll(db(request), updated.id)
    return json_response(backend_json(updated))


@routes.delete("/backends/{id}")
async def delete_backend(request: web.Request) -> web.Response:
    """Decommission (deleted once its last meeting ended); ``?force=true`` deletes now."""
    backend = await load(request)
    body = backend_json(backend)
    if request.query.get("force", "").lower() in TRUE_WORDS:
        async with db(request).transaction() as tx:
            await meeting_store.delete_meetings_of_backend(tx, backend.id)
            await store.delete_backend(tx, backend.id)
        body["admin_state"] = "destroyed"
        return json_response(body)
    await store.set_admin_state(db(request), backend.id, "decommissioned")
    await store.request_poll(db(request), backend.id)
    body["admin_state"] = "decommissioned"
    return json_response(body)

"""``/api/v1/frontends``: tenants. Users see and change only their own (account_ref = sub)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from b3scale.store import frontends as store
from b3scale.store.db import UniqueViolation
from b3scale.store.frontends import Frontend
from b3scale.web.api import inputs, schema
from b3scale.web.api.auth import Principal, principal
from b3scale.web.api.body import json_object
from b3scale.web.api.common import db, json_response, path_uuid
from b3scale.web.api.errors import ApiError, not_found, validation_error
from b3scale.web.api.merge import merge_patch
from b3scale.web.api.shapes import frontend_json

routes = web.RouteTableDef()


def validate(data: dict[str, Any]) -> dict[str, list[str]]:
    return schema.validate(data, inputs.FRONTEND)


def visible(frontend: Frontend | None, who: Principal) -> Frontend | None:
    if frontend is None or who.is_admin or who.owns(frontend.account_ref):
        return frontend
    return None


async def load(request: web.Request) -> Frontend:
    frontend = visible(
        await store.select_frontend(db(request), path_uuid(request, "frontend")),
        principal(request),
    )
    if frontend is None:
        raise not_found("frontend")
    return frontend


@routes.get("/frontends")
async def list_frontends(request: web.Request) -> web.Response:
    who = principal(request)
    if not who.is_admin and who.subject is None:
        return json_response([])
    found = await store.select_frontends(
        db(request),
        key=request.query.get("key"),
        key_like=request.query.get("key__like"),
        account_ref=request.query.get("account_ref") if who.is_admin else who.subject,
    )
    return json_response([frontend_json(f) for f in found])


@routes.post("/frontends")
async def create_frontend(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_object(request)
    if not who.is_admin:
        if who.subject is None:
            raise ApiError(
                403, "forbidden", "a user's token needs a subject (sub) to own frontends"
            )
        data["account_ref"] = who.subject  # a user's frontends are always their own
    errors = validate(data)
    if errors:
        raise validation_error(errors)
    try:
        created = await store.insert_frontend(
            db(request),
            data["bbb"]["key"],
            data["bbb"]["secret"],
            data.get("settings") or {},
            active=data.get("active", True),
            account_ref=data.get("account_ref"),
        )
    except UniqueViolation:
        raise ApiError(409, "conflict", "a frontend with this key exists already") from None
    return json_response(frontend_json(created), 201)


@routes.get("/frontends/{id}")
async def show_frontend(request: web.Request) -> web.Response:
    return json_response(frontend_json(await load(request)))


@routes.patch("/frontends/{id}")
async def update_frontend(request: web.Request) -> web.Response:
    who = principal(request)
    current = await load(request)
    patch = await json_object(request)
    allowed = {"bbb", "active", "settings"} | ({"account_ref"} if who.is_admin else set())
    shape = frontend_json(current)
    merged = merge_patch(
        {k: shape[k] for k in ("bbb", "active", "settings", "account_ref")},
        {k: v for k, v in patch.items() if k in allowed},
    )
    merged.setdefault("settings", {})
    merged.setdefault("active", True)
    errors = validate(merged)
    if errors:
        raise validation_error(errors)
    try:
        updated = await store.update_frontend(
            db(request),
            current.id,
            key=merged["bbb"]["key"],
            secret=merged["bbb"]["secret"],
            settings=merged["settings"],
            active=merged["active"],
            account_ref=merged.get("account_ref"),
        )
    except UniqueViolation:
        raise ApiError(409, "conflict", "a frontend with this key exists already") from None
    if updated is None:
        raise not_found("frontend")
    return json_response(frontend_json(updated))


@routes.delete("/frontends/{id}")
async def delete_frontend(request: web.Request) -> web.Response:
    frontend = await load(request)
    await store.delete_frontend(db(request), frontend.id)
    body = frontend_json(frontend)
    body["active"] = False
    return json_response(body)

"""``/api/v1/frontends``: tenants. Users see and change only their own (account_ref = sub)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from b3scale.store import frontends as store
from b3scale.store import recordings as recording_store
from b3scale.store.db import UniqueViolation
from b3scale.store.frontends import Frontend
from b3scale.web.api import inputs, schema
from b3scale.web.api.auth import Principal, principal
from b3scale.web.api.body import json_object
from b3scale.web.api.common import db, json_response, path_uuid
from b3scale.web.api.errors import ApiError, not_found, validation_error
from b3scale.web.api.merge import merge_patch
from b3scale.web.api.shapes import frontend_json
from b3scale.web.keys import RECORDING_FILES

routes = web.RouteTableDef()


def validate(data: dict[str, Any]) -> tuple[str, list[str]]:
    """The frontend's current secret and the others it still accepts; raises a validation
    error naming each problem."""
    errors = schema.validate(data, inputs.FRONTEND)
    bbb = data.get("bbb")
    if isinstance(bbb, dict) and bbb.get("secret") is None and bbb.get("secrets") is None:
        errors.setdefault("bbb.secret", []).append("this field is required")
    if errors:
        raise validation_error(errors)
    assert isinstance(bbb, dict)  # the schema requires it
    secret: str | None = bbb.get("secret")
    secrets: list[str] | None = bbb.get("secrets")
    if secrets is None:
        assert secret is not None
        return secret, []
    if secret is None:
        secret = secrets[0]
    elif secret not in secrets:
        raise validation_error({"bbb.secrets": ["must hold bbb.secret"]})
    previous = list(dict.fromkeys(s for s in secrets if s != secret))
    if len(previous) + 1 > inputs.SECRETS_MAX:
        raise validation_error(
            {"bbb.secrets": [f"at most {inputs.SECRETS_MAX} different secrets at once"]}
        )
    return secret, previous


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
    secret, previous = validate(data)
    try:
        created = await store.insert_frontend(
            db(request),
            data["bbb"]["key"],
            secret,
            data.get("settings") or {},
            active=data.get("active", True),
            account_ref=data.get("account_ref"),
            previous_secrets=previous,
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
    changes = {k: v for k, v in patch.items() if k in allowed}
    bbb_change = changes.get("bbb")
    if isinstance(bbb_change, dict):
        # A new secret alone replaces every secret (what clients before rollovers mean by it);
        # new secrets alone make their first the current one.
        if "secret" in bbb_change and "secrets" not in bbb_change:
            shape["bbb"].pop("secrets")
        elif "secrets" in bbb_change and "secret" not in bbb_change:
            shape["bbb"].pop("secret")
    merged = merge_patch(
        {k: shape[k] for k in ("bbb", "active", "settings", "account_ref")}, changes
    )
    merged.setdefault("settings", {})
    merged.setdefault("active", True)
    secret, previous = validate(merged)
    try:
        updated = await store.update_frontend(
            db(request),
            current.id,
            key=merged["bbb"]["key"],
            secret=secret,
            settings=merged["settings"],
            active=merged["active"],
            account_ref=merged.get("account_ref"),
            previous_secrets=previous,
        )
    except UniqueViolation:
        raise ApiError(409, "conflict", "a frontend with this key exists already") from None
    if updated is None:
        raise not_found("frontend")
    return json_response(frontend_json(updated))


@routes.delete("/frontends/{id}")
async def delete_frontend(request: web.Request) -> web.Response:
    """A frontend with imported recordings is deleted only with ``with_recordings=true``
    (they and their files go with it)."""
    frontend = await load(request)
    recordings = await recording_store.select_recordings(db(request), frontend.id, states=None)
    if recordings and request.query.get("with_recordings", "").lower() not in ("1", "true"):
        raise ApiError(
            409,
            "has_recordings",
            f"the frontend has {len(recordings)} imported recordings; delete with "
            "with_recordings=true to delete them and their files too",
        )
    await store.delete_frontend(db(request), frontend.id)
    files = request.config_dict.get(RECORDING_FILES)
    if files is not None:
        for recording in recordings:
            await asyncio.to_thread(files.remove, recording.record_id)
    body = frontend_json(frontend)
    body["active"] = False
    return json_response(body)

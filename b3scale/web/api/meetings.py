"""``/api/v1/meetings`` and ``/api/v1/commands`` (admin only)."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from b3scale.bbb.client import BackendClient, BackendUnavailable
from b3scale.bbb.request import Request
from b3scale.cluster.commands import END_ALL_MEETINGS
from b3scale.cluster.hosts import normalize_host
from b3scale.store import backends as backend_store
from b3scale.store import commands as command_store
from b3scale.store import meetings as store
from b3scale.web.api.auth import require_admin
from b3scale.web.api.common import db, json_response, path_uuid
from b3scale.web.api.errors import ApiError, not_found, validation_error
from b3scale.web.api.shapes import command_json, meeting_json
from b3scale.web.keys import HTTP_SESSION

routes = web.RouteTableDef()

#: How long an end-all-meetings command may wait for a worker.
COMMAND_DEADLINE_SECONDS = 600


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise validation_error({field: ["must be a UUID"]}) from None


async def backend_filter(request: web.Request) -> UUID | None:
    """The backend named by ``backend_id`` or ``backend_host``; 404 if there is none."""
    if "backend_id" in request.query:
        backend = await backend_store.select_backend(
            db(request), _uuid(request.query["backend_id"], "backend_id")
        )
    elif "backend_host" in request.query:
        try:
            host = normalize_host(request.query["backend_host"])
        except ValueError:
            raise validation_error({"backend_host": ["must be an http(s) URL"]}) from None
        backend = await backend_store.select_backend_by_host(db(request), host)
    else:
        return None
    if backend is None:
        raise not_found("backend")
    return backend.id


@routes.get("/meetings")
async def list_meetings(request: web.Request) -> web.Response:
    require_admin(request)
    backend_id = await backend_filter(request)
    frontend_id = (
        _uuid(request.query["frontend_id"], "frontend_id")
        if "frontend_id" in request.query
        else None
    )
    rows = await store.select_meetings(db(request), backend_id=backend_id, frontend_id=frontend_id)
    return json_response([meeting_json(r) for r in rows])


@routes.delete("/meetings")
async def end_all_meetings(request: web.Request) -> web.Response:
    """Queue the end of every meeting on a backend; 202 with the command to follow."""
    require_admin(request)
    backend_id = await backend_filter(request)
    if backend_id is None:
        raise validation_error({"backend_id": ["backend_id or backend_host is required"]})
    command = await command_store.enqueue(
        db(request), END_ALL_MEETINGS, {"backend_id": str(backend_id)}, COMMAND_DEADLINE_SECONDS
    )
    return json_response(command_json(command), 202)


@routes.get("/meetings/{id}")
async def show_meeting(request: web.Request) -> web.Response:
    require_admin(request)
    row = await store.select_meeting_row(db(request), request.match_info["id"])
    if row is None:
        raise not_found("meeting")
    return json_response(meeting_json(row))


@routes.delete("/meetings/{id}")
async def end_meeting(request: web.Request) -> web.Response:
    """End one meeting on its backend now."""
    require_admin(request)
    meeting = await store.select_meeting(db(request), request.match_info["id"])
    row = await store.select_meeting_row(db(request), request.match_info["id"])
    if meeting is None or row is None:
        raise not_found("meeting")
    if meeting.backend_host and meeting.backend_secret and meeting.backend_algorithm:
        client = BackendClient(
            request.config_dict[HTTP_SESSION],
            meeting.backend_host,
            meeting.backend_secret,
            meeting.backend_algorithm,
        )
        try:
            response = await client.call(Request.build("end", {"meetingID": meeting.id}))
        except BackendUnavailable as exc:
            raise ApiError(502, "backend_unavailable", str(exc)) from None
        if not response.ok and response.message_key != "notFound":
            raise ApiError(502, "backend_error", f"the backend answered {response.message_key}")
    async with db(request).transaction() as tx:
        await store.delete_meeting(tx, meeting.id)
        if meeting.backend_id is not None:
            await backend_store.refresh_load(tx, meeting.backend_id)
    return json_response(meeting_json(row))


@routes.get("/commands/{id}")
async def show_command(request: web.Request) -> web.Response:
    require_admin(request)
    command = await command_store.select_command(db(request), path_uuid(request, "command"))
    if command is None:
        raise not_found("command")
    return json_response(command_json(command))

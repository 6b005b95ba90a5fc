"""``GET /api/v1`` (who am I) and ``GET /api/v1/status`` (database and schema)."""

from __future__ import annotations

from aiohttp import web

from b3scale import __version__
from b3scale.store.migrate import schema_status
from b3scale.web.api.auth import principal
from b3scale.web.api.common import db, json_response

routes = web.RouteTableDef()


@routes.get("")
async def index(request: web.Request) -> web.Response:
    who = principal(request)
    return json_response(
        {
            "version": __version__,
            "build": "",
            "api": "v1",
            "account_ref": who.subject,
            "is_admin": who.is_admin,
        }
    )


@routes.get("/status")
async def status(request: web.Request) -> web.Response:
    database = db(request)
    available = await database.ping()
    body: dict[str, object] = {"version": __version__, "api": "v1"}
    if not available:
        body["database"] = {"available": False}
        return json_response(body, 503)
    schema = await schema_status(database)
    body["database"] = {
        "available": True,
        "migrated": schema.up_to_date,
        "version": schema.current,
        "latest_known": schema.latest_known,
        "pending_migrations": [f"{m.version:04d}_{m.name}" for m in schema.pending],
    }
    return json_response(body)

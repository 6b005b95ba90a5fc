"""``GET /`` (who answers) and ``GET /healthz`` (can this instance serve?)."""

from __future__ import annotations

from aiohttp import web

from b3scale import __version__
from b3scale.web.keys import DATABASE

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return web.json_response({"name": "b3scale", "version": __version__})


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers within 2 s, 503 otherwise (for load balancers)."""
    database_ok = await request.app[DATABASE].ping(timeout=2.0)
    body = {
        "status": "ok" if database_ok else "unavailable",
        "database": "ok" if database_ok else "unreachable",
        "version": __version__,
    }
    return web.json_response(body, status=200 if database_ok else 503)

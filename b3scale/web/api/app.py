"""The ``/api/v1`` sub-application; mounted only when B3SCALE_API_JWT_SECRET is set."""

from __future__ import annotations

from aiohttp import web

from b3scale.web.api import backends, docs, frontends, index, meetings
from b3scale.web.api.auth import SECRET, auth_middleware
from b3scale.web.api.errors import error_middleware

PREFIX = "/api/v1"


def create_api(jwt_secret: str) -> web.Application:
    # In execution order: errors become JSON (also auth's), then the token is checked.
    api = web.Application(middlewares=[error_middleware, auth_middleware])
    api[SECRET] = jwt_secret
    for module in (index, frontends, backends, meetings, docs):
        api.add_routes(module.routes)
    return api

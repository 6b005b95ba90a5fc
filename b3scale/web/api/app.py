"""The ``/api/v1`` sub-application; mounted only when B3SCALE_API_JWT_SECRET is set."""

from __future__ import annotations

from aiohttp import web

from b3scale.web.api import (
    agent,
    backends,
    callbacks,
    docs,
    frontends,
    index,
    meetings,
    recordings,
)
from b3scale.web.api.auth import SECRET, auth_middleware
from b3scale.web.api.errors import error_middleware
from b3scale.web.api.params import params_middleware

PREFIX = "/api/v1"


def create_api(jwt_secret: str) -> web.Application:
    # In execution order: errors become JSON (also auth's), the token is checked, then path
    # and query values are (only a caller with a valid token learns what was wrong with them).
    api = web.Application(middlewares=[error_middleware, auth_middleware, params_middleware])
    api[SECRET] = jwt_secret
    for module in (index, frontends, backends, meetings, callbacks, agent, recordings, docs):
        api.add_routes(module.routes)
    return api

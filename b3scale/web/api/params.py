"""Path and query parameters of the REST API, checked before any handler sees them.

Every value reaches a query (a meeting id, ``?account_ref=``, ``?host=``), so a NUL byte, a
control character or an absurd length is refused here with a 400, once for every route.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from b3scale.bbb.text import is_clean
from b3scale.web.api.errors import ApiError

#: The longest path or query value any route means (a backend URL, a meeting id).
MAX_VALUE_LENGTH = 2048


def _bad(value: str) -> bool:
    return len(value) > MAX_VALUE_LENGTH or not is_clean(value) or "\ufffd" in value


@web.middleware
async def params_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    for name, value in request.match_info.items():
        if _bad(value):
            raise ApiError(400, "invalid_parameter", f"the path parameter {name} is not valid")
    for name, value in request.query.items():
        if _bad(name) or _bad(value):
            raise ApiError(
                400,
                "invalid_parameter",
                "a query parameter is too long or holds characters that are not allowed",
            )
    return await handler(request)

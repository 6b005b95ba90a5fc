"""Frontend settings that fill in or force create and join parameters.

``create_default_params`` / ``join_default_params`` are set when the request lacks them;
``create_override_params`` / ``join_override_params`` always win. ``disabledFeatures`` defaults
are merged into the request's list instead of replacing it (as b3scale does).
"""

from __future__ import annotations

from typing import Any

from b3scale.bbb.request import Request
from b3scale.cluster.chain import Context, Handler, Middleware, Reply

MERGED_LIST_PARAMS = frozenset({"disabledFeatures"})


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None and str(k)}


def merge_list(*values: str | None) -> str:
    merged: list[str] = []
    for value in values:
        for item in (value or "").split(","):
            item = item.strip()
            if item and item not in merged:
                merged.append(item)
    return ",".join(merged)


def apply_params(request: Request, defaults: Any, overrides: Any) -> Request:
    for key, value in _string_map(defaults).items():
        if key in MERGED_LIST_PARAMS and key in request:
            request = request.with_param(key, merge_list(request.get(key), value))
        elif key not in request:
            request = request.with_param(key, value)
    for key, value in _string_map(overrides).items():
        request = request.with_param(key, value)
    return request


def set_params(call: str) -> Middleware:
    """The middleware for ``call``: reads ``<call>_default_params`` / ``<call>_override_params``."""

    def middleware(next_handler: Handler) -> Handler:
        async def handler(ctx: Context) -> Reply:
            if ctx.request.call != call:
                return await next_handler(ctx)  # pass
            settings = ctx.frontend.settings
            request = apply_params(
                ctx.request,
                settings.get(f"{call}_default_params"),
                settings.get(f"{call}_override_params"),
            )
            return await next_handler(ctx.with_request(request))

        return handler

    return middleware


set_create_params = set_params("create")
set_join_params = set_params("join")

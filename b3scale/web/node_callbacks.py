"""``/b3s/callback/<token>``: where BBB nodes call back (meeting ended, recording ready,
analytics). Answered at once; the frontend gets the call from the delivery queue."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from b3scale.cluster import callbacks
from b3scale.store.db import DatabaseError
from b3scale.web.keys import DATABASE, RETRY_KEY

log = logging.getLogger(__name__)

#: Analytics documents of long meetings are the largest callbacks (a few hundred KiB).
MAX_CALLBACK_BYTES = 4 * 1024 * 1024
MAX_TOKEN_LENGTH = 16 * 1024


async def receive(http: web.Request) -> web.Response:
    token = http.match_info["token"]
    if len(token) > MAX_TOKEN_LENGTH:
        return web.Response(status=404, text="unknown callback\n")
    if (http.content_length or 0) > MAX_CALLBACK_BYTES:
        return web.Response(status=413, text="callback too large\n")
    try:
        body = await http.content.read(MAX_CALLBACK_BYTES + 1)
    except (web.RequestPayloadError, HttpProcessingError):
        return web.Response(status=400, text="unreadable body\n")
    if len(body) > MAX_CALLBACK_BYTES:
        return web.Response(status=413, text="callback too large\n")
    call = callbacks.NodeCall(
        http.method,
        http.rel_url.raw_query_string,
        http.headers.get("Content-Type", ""),
        http.headers.get("Authorization", ""),
        body,
    )
    try:
        queued = await callbacks.accept(http.app[DATABASE], http.app[RETRY_KEY], token, call)
    except callbacks.Refused as exc:
        log.warning("callback refused", extra={"reason": str(exc), "remote": http.remote})
        return web.Response(status=404, text="unknown callback\n")
    except DatabaseError:
        return web.Response(status=503, text="try again later\n")
    log.info("callback queued", extra={"id": queued})
    return web.Response(text="OK\n")

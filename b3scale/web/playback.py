"""Imported recordings' files, served where BBB serves them (``/playback/<format>/<id>/``
and ``/<format>/<id>/``), so the playback links b3scale writes work with b3scale itself as
the playback host (an nginx in front of B3SCALE_RECORDINGS_DIR can do the same, asking
``/b3s/recording-auth`` whether a protected file may be served).

Only published recordings are served: BBB moves an unpublished recording's files out of reach,
and so does this. A protected recording's files need the cookie its signed playback link sets
(``/b3s/recording/<token>``; see :mod:`b3scale.cluster.recording_access`).
"""

from __future__ import annotations

import re

from aiohttp import web

from b3scale.cluster import recording_access
from b3scale.store import recordings as store
from b3scale.store.recordings import RecordingRow
from b3scale.web.keys import DATABASE, RECORDING_FILES, RETRY_KEY

RECORD_ID = r"{record_id:[0-9a-f]{40}-[0-9]{13}}"
FORMAT = r"{format:[a-z0-9_-]{1,32}}"


FORBIDDEN_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Protected recording</title></head>"
    "<body><h1>This recording is protected</h1><p>Open it from the page that lists it (the "
    "link there works for an hour).</p></body></html>"
)


async def playable(request: web.Request, record_id: str) -> RecordingRow:
    """The recording, if it is published and, when protected, the browser has its cookie;
    else 404 or 403."""
    recording = await store.select_recording(request.app[DATABASE], record_id)
    if recording is None or recording.state != "published" or not recording.published:
        raise web.HTTPNotFound(text="No such recording.")
    if recording.protected and not recording_access.cookie_allows(
        request.app[RETRY_KEY],
        request.cookies.get(recording_access.cookie_name(record_id)),
        record_id,
    ):
        raise web.HTTPForbidden(text=FORBIDDEN_PAGE, content_type="text/html")
    return recording


async def recording_file(request: web.Request) -> web.StreamResponse:
    files = request.app[RECORDING_FILES]
    record_id, fmt = request.match_info["record_id"], request.match_info["format"]
    path = request.match_info.get("path", "").strip("/") or "index.html"
    await playable(request, record_id)
    found = files.open(record_id, fmt, path)
    if found is None:
        raise web.HTTPNotFound(text="No such file in this recording.")
    return web.FileResponse(found, headers={"Cache-Control": "private, max-age=300"})


async def follow_link(request: web.Request) -> web.StreamResponse:
    """A protected recording's link: the cookie for that recording, then the player."""
    found = recording_access.read_link(request.app[RETRY_KEY], request.match_info["token"])
    if found is None:
        raise web.HTTPForbidden(
            text="<!DOCTYPE html><html><body><h1>This link has expired</h1><p>Open the "
            "recording again from the page that lists it.</p></body></html>",
            content_type="text/html",
        )
    record_id, url = found
    response = web.HTTPFound(url)
    response.set_cookie(
        recording_access.cookie_name(record_id),
        recording_access.cookie_value(request.app[RETRY_KEY], record_id),
        max_age=recording_access.COOKIE_TTL,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure or url.startswith("https://"),
    )
    raise response


_RECORD_IN_PATH = re.compile(r"/([0-9a-f]{40}-[0-9]{13})(?:/|$)")


async def auth_request(request: web.Request) -> web.StreamResponse:
    """For nginx ``auth_request``: 204 when the file named by X-Original-URI may be served,
    403 or 404 otherwise."""
    match = _RECORD_IN_PATH.search(request.headers.get("X-Original-URI", ""))
    if match is None:
        raise web.HTTPNotFound()
    await playable(request, match[1])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/b3s/recording/{token}", follow_link)
    app.router.add_get("/b3s/recording-auth", auth_request)
    for prefix in ("/playback/" + FORMAT, "/" + FORMAT):
        app.router.add_get(f"{prefix}/{RECORD_ID}", recording_file)
        app.router.add_get(f"{prefix}/{RECORD_ID}/{{path:.*}}", recording_file)

"""Imported recordings' files, served where BBB serves them (``/playback/<format>/<id>/``
and ``/<format>/<id>/``), so the playback links b3scale writes work with b3scale itself as
the playback host (an nginx in front of B3SCALE_RECORDINGS_DIR can do the same).

Only published recordings are served: BBB moves an unpublished recording's files out of reach,
and so does this.
"""

from __future__ import annotations

from aiohttp import web

from b3scale.store import recordings as store
from b3scale.web.keys import DATABASE, RECORDING_FILES

RECORD_ID = r"{record_id:[0-9a-f]{40}-[0-9]{13}}"
FORMAT = r"{format:[a-z0-9_-]{1,32}}"


async def recording_file(request: web.Request) -> web.StreamResponse:
    files = request.app[RECORDING_FILES]
    record_id, fmt = request.match_info["record_id"], request.match_info["format"]
    path = request.match_info.get("path", "").strip("/") or "index.html"
    recording = await store.select_recording(request.app[DATABASE], record_id)
    if recording is None or recording.state != "published" or not recording.published:
        raise web.HTTPNotFound(text="No such recording.")
    found = files.open(record_id, fmt, path)
    if found is None:
        raise web.HTTPNotFound(text="No such file in this recording.")
    return web.FileResponse(found, headers={"Cache-Control": "private, max-age=300"})


def add_routes(app: web.Application) -> None:
    for prefix in ("/playback/" + FORMAT, "/" + FORMAT):
        app.router.add_get(f"{prefix}/{RECORD_ID}", recording_file)
        app.router.add_get(f"{prefix}/{RECORD_ID}/{{path:.*}}", recording_file)

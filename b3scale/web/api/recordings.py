"""``/api/v1/recording-files/...`` and ``/api/v1/recordings-import``: recordings pushed from
the nodes (``b3scale recordings push``), with a node agent's or an admin's token; and
``/api/v1/recordings``, the imported recordings (admin).

Files are uploaded one by one, each resumable: ``GET`` tells what the server has (a complete
file's size and SHA-256, or how much of an interrupted upload), ``PUT ?offset=N`` continues
from there, and the last part names the total size and SHA-256, which must match before the
file appears. Pushing the same recording twice changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web

from b3scale.bbb.recording_metadata import MetadataError, parse_metadata
from b3scale.cluster.imported_recordings import ImportForbidden, ImportRefused, import_recording
from b3scale.store import backends as backend_store
from b3scale.store import frontends as frontend_store
from b3scale.store import recordings as store
from b3scale.store.backends import Backend
from b3scale.store.files import BadPath, RecordingFiles, check_path
from b3scale.store.recordings import RecordingRow
from b3scale.web.api.auth import principal, require_admin
from b3scale.web.api.body import read_body
from b3scale.web.api.common import db, json_response
from b3scale.web.api.errors import ApiError, not_found, validation_error
from b3scale.web.keys import CONFIG, RECORDING_FILES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

#: The largest file of a recording (a long meeting's webcam video is a few GiB).
MAX_FILE_BYTES = 16 * 1024**3
#: Written to disk in pieces of this size as it arrives.
PIECE = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def files_of(request: web.Request) -> RecordingFiles:
    files = request.config_dict.get(RECORDING_FILES)
    if files is None:
        raise ApiError(
            404,
            "recordings_disabled",
            "this cluster does not import recordings (B3SCALE_RECORDINGS_DIR is not set)",
        )
    return files


async def require_pusher(request: web.Request) -> Backend | None:
    """An admin's token (None) or a node agent's token bound to a backend (that backend):
    a node token whose subject names no backend pushes nothing."""
    who = principal(request)
    if who.is_admin:
        return None
    if not (who.is_node and who.subject):
        raise ApiError(403, "forbidden", "b3scale:node or b3scale:admin scope required")
    node = await backend_store.select_backend_by_agent_ref(db(request), who.subject)
    if node is None:
        raise ApiError(
            403,
            "forbidden",
            "this node token is bound to no backend (register the node, or set the "
            "backend's agent_ref to the token's subject)",
        )
    return node


async def require_file_owner(
    request: web.Request, node: Backend | None, record_id: str, *, writing: bool
) -> None:
    """A node reads and writes only the files of a recording it pushes itself: once imported,
    the node it came from; before, the node that started pushing (a write claims the record
    ID). Another node's token can neither swap an imported recording's video nor put its own
    files under a record ID first."""
    if node is None:
        return
    database = db(request)
    imported = await store.select_recording(database, record_id)
    if imported is not None:
        # An admin's import (no node) is no node's to change, as the import itself is not.
        owner: str | None = imported.backend_host or "an admin"
    elif writing:
        owner = await store.claim_upload(database, record_id, node.host)
    else:
        owner = await store.upload_owner(database, record_id)
    if owner is not None and owner != node.host:
        raise ApiError(403, "forbidden", "this recording is pushed by another node")


def file_address(request: web.Request) -> tuple[str, str, str]:
    record_id = request.match_info["record_id"]
    fmt = request.match_info["format"]
    path = request.match_info["path"]
    try:
        check_path(record_id, fmt, path)
    except BadPath as exc:
        raise validation_error({"path": [str(exc)]}) from None
    return record_id, fmt, path


@routes.get("/recording-files/{record_id}/{format}/{path:.+}")
async def file_state(request: web.Request) -> web.Response:
    node = await require_pusher(request)
    files = files_of(request)
    record_id, fmt, path = file_address(request)
    await require_file_owner(request, node, record_id, writing=False)
    state = await asyncio.to_thread(files.state, record_id, fmt, path)
    return json_response({"size": state.size, "sha256": state.sha256, "partial": state.partial})


def _query_int(request: web.Request, name: str, default: int | None) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 15:
        raise validation_error({name: ["must be a whole number"]})
    return int(text)


@routes.put("/recording-files/{record_id}/{format}/{path:.+}")
async def upload_file(request: web.Request) -> web.Response:
    """The body continues the upload at ``offset``; with ``total`` and ``sha256`` it is the
    last part: the file appears if it matches (201), else the upload is discarded (409)."""
    node = await require_pusher(request)
    files = files_of(request)
    record_id, fmt, path = file_address(request)
    offset = _query_int(request, "offset", 0)
    total = _query_int(request, "total", None)
    sha256 = request.query.get("sha256")
    assert offset is not None
    if (total is None) != (sha256 is None) or (sha256 is not None and not _SHA256.match(sha256)):
        raise validation_error({"sha256": ["total and a hex SHA-256 go together"]})
    if offset + (request.content_length or 0) > MAX_FILE_BYTES:
        raise ApiError(413, "request_too_large", f"a file may have {MAX_FILE_BYTES} bytes")
    # Only a valid upload claims the record ID for its node.
    await require_file_owner(request, node, record_id, writing=True)
    size = offset
    first = True
    try:
        async for piece in request.content.iter_chunked(PIECE):
            size = await asyncio.to_thread(files.append, record_id, fmt, path, size, piece)
            first = False
            if size > MAX_FILE_BYTES:
                raise ApiError(413, "request_too_large", f"a file may have {MAX_FILE_BYTES} bytes")
        if first:
            size = await asyncio.to_thread(files.append, record_id, fmt, path, offset, b"")
    except BadPath as exc:
        raise ApiError(409, "wrong_offset", str(exc)) from None
    if total is None:
        return json_response({"partial": size})
    assert sha256 is not None
    if not await asyncio.to_thread(files.complete, record_id, fmt, path, total, sha256):
        raise ApiError(
            409, "checksum_mismatch", "the file's size or SHA-256 does not match; push it again"
        )
    return json_response({"size": total, "sha256": sha256.lower()}, 201)


@routes.post("/recordings-import")
async def import_metadata(request: web.Request) -> web.Response:
    """A format's ``metadata.xml``, once its files are pushed: the recording is listed from
    then on, with playback URLs on the playback host."""
    node = await require_pusher(request)
    files_of(request)
    try:
        found = parse_metadata(await read_body(request, 1024 * 1024))
    except MetadataError as exc:
        raise validation_error({"body": [str(exc)]}) from None
    config = request.config_dict[CONFIG]
    try:
        imported = await import_recording(
            db(request), found, node, config.recordings_playback_url or config.public_url
        )
    except ImportForbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except ImportRefused as exc:
        raise ApiError(409, "import_refused", str(exc)) from None
    log.info(
        "recording imported",
        extra={"record": imported.record_id, "format": found.format.get("type", "")},
    )
    return json_response(recording_json(imported), 201)


@routes.get("/recordings")
async def list_recordings(request: web.Request) -> web.Response:
    require_admin(request)
    key = request.query.get("frontend_key")
    frontends = await frontend_store.select_frontends(db(request), key=key)
    if key and not frontends:
        raise not_found("frontend")
    rows: list[RecordingRow] = []
    for frontend in frontends:
        rows.extend(await store.select_recordings(db(request), frontend.id, states=None))
    return json_response([recording_json(r) for r in rows])


def recording_json(row: RecordingRow) -> dict[str, object]:
    return {
        "record_id": row.record_id,
        "frontend_id": str(row.frontend_id),
        "meeting_id": row.meeting_id,
        "name": row.name,
        "state": row.state,
        "published": row.published,
        "protected": row.protected,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "participants": row.participants,
        "formats": [f.get("type") for f in row.formats],
        "backend_host": row.backend_host,
    }

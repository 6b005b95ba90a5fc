"""The recording calls: imported recordings from the database, the others from every
backend that ever hosted the frontend's meetings.

Recordings not imported stay on the node that recorded them, so the gateway asks each backend
the frontend used (concurrently) and keeps only recordings whose meetingID belongs to the
frontend; an imported recording is listed once, from the database, even while its node still
has it. Calls that change recordings name them by ``recordID``, as real clients do: imported
ones are changed here, and the nodes that still hold them are asked too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from b3scale.bbb.client import BackendClient, BackendResponse, BackendUnavailable
from b3scale.bbb.multipart import multipart_file
from b3scale.bbb.request import Request
from b3scale.bbb.responses import (
    JSON_CONTENT_TYPE,
    MESSAGES,
    failed,
    json_document,
    success,
)
from b3scale.cluster import meeting_ids
from b3scale.cluster.chain import Context, Handler, Reply
from b3scale.cluster.imported_recordings import recording_xml
from b3scale.cluster.services import Services
from b3scale.store import recordings as recording_store
from b3scale.store.meetings import select_frontend_backends

log = logging.getLogger(__name__)

_RECORDING = re.compile(rb"<recording>.*?</recording>", re.DOTALL)
_MEETING_ID = re.compile(rb"<meetingID>([^<]*)</meetingID>")
_RECORD_ID = re.compile(rb"<recordID>([^<]*)</recordID>")


@dataclass(frozen=True, slots=True)
class Holding:
    """The frontend's recordings on one backend."""

    client: BackendClient
    record_ids: list[str]


def recordings_of(body: bytes, frontend_key: str) -> list[bytes]:
    """The ``<recording>`` elements whose meeting belongs to the frontend."""
    owned = []
    for chunk in _RECORDING.findall(body):
        match = _MEETING_ID.search(chunk)
        if match and meeting_ids.owner(match[1].decode("utf-8", "replace")) == frontend_key:
            owned.append(chunk)
    return owned


def record_id_of(chunk: bytes) -> str:
    match = _RECORD_ID.search(chunk)
    return match[1].decode("utf-8", "replace") if match else ""


async def _clients(services: Services, ctx: Context) -> list[BackendClient]:
    rows = await select_frontend_backends(services.db, ctx.frontend.id)
    return [services.backend(r["host"], r["secret"], r["checksum_algorithm"]) for r in rows]


async def _ask_all(
    clients: Sequence[BackendClient], request: Request
) -> list[tuple[BackendClient, BackendResponse]]:
    """The request on every backend at once; a backend that fails is logged and left out."""
    answers = await asyncio.gather(*(c.call(request) for c in clients), return_exceptions=True)
    found = []
    for client, answer in zip(clients, answers, strict=True):
        if isinstance(answer, BackendUnavailable):
            log.warning(
                "recordings of a backend left out: it does not answer",
                extra={"backend": client.api_base, "error": str(answer)},
            )
        elif isinstance(answer, BaseException):
            raise answer
        elif answer.ok:
            found.append((client, answer))
    return found


def _list_param(ctx: Context, name: str) -> list[str]:
    return [p for p in (ctx.request.get(name) or "").split(",") if p]


def _states(ctx: Context) -> list[str] | None:
    """``state``: a comma list, ``any`` (None), or BBB's default."""
    asked = [s.strip().lower() for s in _list_param(ctx, "state")]
    if "any" in asked:
        return None
    return asked or list(recording_store.DEFAULT_STATES)


def _page(ctx: Context) -> tuple[int, int | None]:
    """``offset`` and ``limit`` (BBB 2.6+); nonsense is ignored as BBB ignores it."""

    def number(name: str) -> int | None:
        text = (ctx.request.get(name) or "").strip()
        return int(text) if text.isdigit() and len(text) < 9 else None

    return number("offset") or 0, number("limit")


def make_get_recordings(services: Services) -> Handler:
    async def get_recordings(ctx: Context) -> Reply:
        record_ids = _list_param(ctx, "recordID")
        imported = await recording_store.select_recordings(
            services.db,
            ctx.frontend.id,
            meeting_ids=_list_param(ctx, "meetingID"),
            record_ids=record_ids,
            states=_states(ctx),
            metadata={
                k[5:]: v for k, v in ctx.request.items() if k.startswith("meta_") and len(k) > 5
            },
        )
        known = {r.record_id for r in imported}
        answers = await _ask_all(await _clients(services, ctx), ctx.request)
        chunks = [recording_xml(r, services.retry_key) for r in imported]
        for _, resp in answers:
            # A recording imported and still on its node is listed once, as imported.
            chunks.extend(
                c
                for c in recordings_of(resp.body, ctx.frontend.key)
                if record_id_of(c) not in known
            )
        offset, limit = _page(ctx)
        chunks = chunks[offset : None if limit is None else offset + limit]
        if not chunks:
            return Reply(
                success(
                    ("recordings", ""),
                    ("messageKey", "noRecordings"),
                    ("message", MESSAGES["noRecordings"]),
                )
            )
        body = (
            b"<response><returncode>SUCCESS</returncode><recordings>"
            + b"".join(chunks)
            + b"</recordings></response>"
        )
        return Reply(body)

    return get_recordings


async def _change_imported(services: Services, ctx: Context, record_ids: list[str]) -> int:
    """publish/update/deleteRecordings on imported recordings; how many it found."""
    call, frontend = ctx.request.call, ctx.frontend.id
    owned = await recording_store.select_recordings(
        services.db, frontend, record_ids=record_ids, states=None
    )
    ids = [r.record_id for r in owned if r.record_id in record_ids]
    if not ids:
        return 0
    if call == "publishRecordings":
        publish = (ctx.request.get("publish") or "").lower() == "true"
        await recording_store.set_published(services.db, frontend, ids, publish)
    elif call == "updateRecordings":
        protect = (ctx.request.get("protect") or "").lower()
        await recording_store.update_metadata(
            services.db,
            frontend,
            ids,
            {k[5:]: v for k, v in ctx.request.items() if k.startswith("meta_") and len(k) > 5},
            protect == "true" if protect in ("true", "false") else None,
        )
    elif call == "deleteRecordings":
        for record_id in await recording_store.delete_recordings(services.db, frontend, ids):
            if services.recording_files is not None:
                await asyncio.to_thread(services.recording_files.remove, record_id)
    return len(ids)


_LANG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")
#: A caption file is a few hundred KiB at most.
MAX_TEXT_TRACK = 4 * 1024 * 1024


def _json_reply(response: dict[str, object]) -> Reply:
    return Reply(json_document(response), content_type=JSON_CONTENT_TYPE)


async def _imported_text_tracks(services: Services, ctx: Context, record_id: str) -> Reply | None:
    """get/putRecordingTextTrack for an imported recording (None: not imported)."""
    rows = await recording_store.select_recordings(
        services.db, ctx.frontend.id, record_ids=[record_id], states=None
    )
    row = next((r for r in rows if r.record_id == record_id), None)
    if row is None:
        return None
    if ctx.request.call == "getRecordingTextTracks":
        return _json_reply({"returncode": "SUCCESS", "tracks": row.text_tracks})

    def fail(key: str, message: str) -> Reply:
        return _json_reply({"returncode": "FAILED", "messageKey": key, "message": message})

    kind, lang = ctx.request.get("kind"), ctx.request.get("lang") or ""
    if not kind:
        return fail("paramError", "Missing param kind.")
    if kind not in ("subtitles", "captions"):
        return fail(
            "invalidKind", f"Invalid kind parameter, expected='subtitles|captions' actual={kind}"
        )
    if not _LANG.match(lang):
        return fail("invalidLang", "Malformed lang param")
    data = multipart_file(ctx.request.body, ctx.request.content_type)
    if not data or services.recording_files is None:
        return fail("empty_uploaded_text_track", "Empty uploaded text track.")
    if len(data) > MAX_TEXT_TRACK:
        return fail("upload_text_track_failed", "The text track is too large.")
    name = f"caption_{lang}.vtt"
    files = services.recording_files
    await asyncio.to_thread(files.append, record_id, "presentation", name, 0, data)
    digest = hashlib.sha256(data).hexdigest()
    await asyncio.to_thread(files.complete, record_id, "presentation", name, len(data), digest)
    base = urlsplit(str(row.formats[0].get("url", ""))) if row.formats else None
    origin = f"{base.scheme}://{base.netloc}" if base and base.netloc else ""
    track = {
        "href": f"{origin}/presentation/{record_id}/{name}",
        "kind": kind,
        "label": ctx.request.get("label") or lang,
        "lang": lang,
        "source": "upload",
    }
    tracks = [t for t in row.text_tracks if (t.get("kind"), t.get("lang")) != (kind, lang)]
    await recording_store.set_text_tracks(services.db, ctx.frontend.id, record_id, [*tracks, track])
    return _json_reply(
        {
            "returncode": "SUCCESS",
            "messageKey": "upload_text_track_success",
            "message": "Text track uploaded successfully",
            "recordId": record_id,
        }
    )


#: What publish/update/deleteRecordings answer, by call.
CHANGE_ANSWERS = {
    "publishRecordings": "published",
    "updateRecordings": "updated",
    "deleteRecordings": "deleted",
}


async def _holdings(services: Services, ctx: Context, record_ids: list[str]) -> list[Holding]:
    """Which backend holds which of the frontend's recordings."""
    lookup = Request.build("getRecordings", {"recordID": ",".join(record_ids), "state": "any"})
    holdings = []
    for client, resp in await _ask_all(await _clients(services, ctx), lookup):
        owned = [record_id_of(c) for c in recordings_of(resp.body, ctx.frontend.key)]
        wanted = [r for r in owned if r in record_ids]
        if wanted:
            holdings.append(Holding(client, wanted))
    return holdings


def make_change(services: Services, *, json_answers: bool = False) -> Handler:
    """publish/update/deleteRecordings and the text-track calls, by recordID."""

    def not_found(record_ids: list[str]) -> Reply:
        if json_answers:
            body = json_document(
                {
                    "returncode": "FAILED",
                    "messageKey": "noRecordings",
                    "message": f"No recording was found for {','.join(record_ids)}",
                }
            )
            return Reply(body, content_type=JSON_CONTENT_TYPE)
        return Reply(failed("notFound", MESSAGES["recordingsNotFound"]))

    async def change(ctx: Context) -> Reply:
        record_ids = [r for r in (ctx.request.get("recordID") or "").split(",") if r]
        if not record_ids:
            return Reply(failed("missingParamRecordID"))
        call = ctx.request.call
        if call == "publishRecordings" and (ctx.request.get("publish") or "").lower() not in (
            "true",
            "false",
        ):
            return Reply(failed("missingParamPublish"))
        if json_answers:
            answered = await _imported_text_tracks(services, ctx, record_ids[0])
            if answered is not None:
                return answered
        imported = 0 if json_answers else await _change_imported(services, ctx, record_ids)
        holdings = await _holdings(services, ctx, record_ids)
        if not holdings:
            if imported:
                value = True
                if call == "publishRecordings":
                    value = (ctx.request.get("publish") or "").lower() == "true"
                return Reply(success((CHANGE_ANSWERS[call], value)))
            return not_found(record_ids)
        last: BackendResponse | None = None
        for holding in holdings:
            request = ctx.request.with_param("recordID", ",".join(holding.record_ids))
            try:
                last = await holding.client.call(request)
            except BackendUnavailable:
                return Reply(
                    failed(
                        "backendUnavailable",
                        "The BigBlueButton server holding this recording does not answer.",
                    )
                )
            if not last.ok and not json_answers:
                break
        assert last is not None
        return Reply(last.body, last.status, last.content_type or "text/xml")

    return change


def recording_handlers(services: Services) -> dict[str, Handler]:
    change = make_change(services)
    tracks = make_change(services, json_answers=True)
    return {
        "getRecordings": make_get_recordings(services),
        "publishRecordings": change,
        "updateRecordings": change,
        "deleteRecordings": change,
        "getRecordingTextTracks": tracks,
        "putRecordingTextTrack": tracks,
    }

"""The meeting calls: create, join, end, isMeetingRunning, getMeetingInfo, getMeetings,
insertDocument, sendChatMessage, and the version call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from b3scale.bbb import parse
from b3scale.bbb.client import BackendClient, BackendResponse, BackendUnavailable
from b3scale.bbb.responses import BBBError, RawXML, failed, success, xml_document
from b3scale.cluster import join_pages, meeting_state, router
from b3scale.cluster.chain import HTML_CONTENT_TYPE, Context, Handler, Reply
from b3scale.cluster.middlewares.rewrite_meeting_id import decode_body
from b3scale.cluster.services import Services
from b3scale.logs import Episode
from b3scale.store import backends as backend_store
from b3scale.store import meetings as meeting_store
from b3scale.store.db import DatabaseError
from b3scale.store.meetings import MeetingRow

log = logging.getLogger(__name__)
store_trouble = Episode(log, "a created meeting's details were not stored; the next poll will")

#: How often a create is tried on another backend when the chosen one does not answer.
CREATE_ATTEMPTS = 2

BACKEND_UNAVAILABLE = BBBError(
    "backendUnavailable",
    "The BigBlueButton server of this meeting does not answer. Please try again later.",
)


def passthrough(response: BackendResponse) -> Reply:
    """The node's answer as it is; one that is no BBB document (a proxy's error page, a
    truncated body) becomes a FAILED document, so a frontend never parses garbage."""
    if response.returncode is None and not response.body.lstrip().startswith(b"{"):
        log.warning("a backend answered without a BBB document", extra={"status": response.status})
        return Reply(
            failed(
                "backendError",
                f"The BigBlueButton server answered HTTP {response.status} without a BBB document.",
            )
        )
    return Reply(response.body, response.status, response.content_type or "text/xml")


def client_for(services: Services, meeting: MeetingRow) -> BackendClient:
    assert meeting.backend_host and meeting.backend_secret and meeting.backend_algorithm
    return services.backend(meeting.backend_host, meeting.backend_secret, meeting.backend_algorithm)


async def version(ctx: Context) -> Reply:
    return Reply(success(("version", "2.0"), ("apiVersion", "2.0")))


def make_create(services: Services) -> Handler:
    async def create(ctx: Context) -> Reply:
        request = ctx.request
        if not request.meeting_id or not ctx.external_meeting_id:
            return Reply(failed("missingParamMeetingID"))
        is_breakout = (request.get("isBreakout") or "").lower() == "true"
        unique_bridge = ctx.frontend.unique_voice_bridge
        if unique_bridge is None:
            unique_bridge = services.unique_voice_bridges
        tried: set[UUID] = set()
        for _attempt in range(CREATE_ATTEMPTS):
            try:
                placement = await router.place(
                    services.db,
                    ctx.frontend,
                    request.meeting_id,
                    ctx.external_meeting_id,
                    is_breakout=is_breakout,
                    exclude=frozenset(tried),
                    unique_voice_bridge=unique_bridge,
                    voice_bridge=(request.get("voiceBridge") or "").strip() or None,
                )
            except BBBError as refusal:
                if refusal.message_key in router.REFUSALS:
                    limit = ctx.frontend.meetings_limit or 0
                    services.refusals.refused(ctx.frontend.key, refusal.message_key, limit)
                elif refusal is router.NO_BACKEND:
                    services.stats.placements["no_backend"] += 1
                raise
            meeting = placement.meeting
            if placement.new:
                services.stats.placements["placed"] += 1
            if placement.voice_bridge and request.get("voiceBridge") != placement.voice_bridge:
                request = request.with_param("voiceBridge", placement.voice_bridge)
            try:
                response = await client_for(services, meeting).call(request)
            except BackendUnavailable as exc:
                log.warning("create failed: backend unavailable", extra={"error": str(exc)})
                if not placement.new:
                    raise BACKEND_UNAVAILABLE from None
                await router.unplace(services.db, meeting)
                assert meeting.backend_id is not None
                tried.add(meeting.backend_id)
                continue
            if response.ok:
                try:
                    await _store_created(services, ctx, meeting, response)
                except DatabaseError as exc:
                    # The node runs the meeting and the placement is stored: the frontend is
                    # told the truth (SUCCESS); the details come with the next poll.
                    store_trouble.report(error=str(exc).strip()[:200])
            elif placement.new:
                await router.unplace(services.db, meeting)
            return passthrough(response)
        raise BACKEND_UNAVAILABLE

    return create


async def _store_created(
    services: Services, ctx: Context, meeting: MeetingRow, response: BackendResponse
) -> None:
    """Remember what create answered (until a poll brings the backend's full view)."""

    def element(created: parse.MeetingInfo) -> bytes | None:
        if created.internal_id == meeting.internal_id:
            return None  # duplicateWarning for a meeting we know already
        created.fields.setdefault("meetingName", ctx.request.get("name") or "")
        return meeting_state.meeting_element_from_create(
            ctx.request, ctx.external_meeting_id or "", created
        )

    await _store(services, meeting, response, element)


def make_join(services: Services) -> Handler:
    async def join(ctx: Context) -> Reply:
        meeting = ctx.meeting
        if meeting is None:
            return Reply(join_pages.meeting_not_found_page(), 404, HTML_CONTENT_TYPE)
        if meeting.backend_id is None or not meeting.backend_healthy:
            token = join_pages.make_retry_token(services.retry_key, ctx.original_url)
            location = f"/b3s/retry-join/{token}"
            return Reply(join_pages.redirect_page(location), 302, HTML_CONTENT_TYPE, location)
        client = client_for(services, meeting)
        if (ctx.request.get("redirect") or "").lower() == "false":
            # The frontend wants BBB's XML answer (with the client URL) instead of a redirect.
            try:
                return passthrough(await client.call(ctx.request))
            except BackendUnavailable:
                raise BACKEND_UNAVAILABLE from None
        if services.reverse_proxy_mode:
            return await _join_through_proxy(client, ctx)
        url = client.url(ctx.request)
        return Reply(join_pages.redirect_page(url), 302, HTML_CONTENT_TYPE, url)

    return join


async def _join_through_proxy(client: BackendClient, ctx: Context) -> Reply:
    """b3scale's reverse-proxy mode: ask the node, hand its redirect over as a relative URL
    with ``b3shost`` naming the node, for a proxy in front to route by."""
    try:
        response = await client.call(ctx.request)
    except BackendUnavailable:
        raise BACKEND_UNAVAILABLE from None
    if response.location is None:
        return passthrough(response)
    target = urlsplit(response.location)
    query = (
        f"{target.query}&b3shost={target.netloc}" if target.query else f"b3shost={target.netloc}"
    )
    relative = urlunsplit(("", "", target.path, query, target.fragment))
    return Reply(join_pages.redirect_page(relative), 302, HTML_CONTENT_TYPE, relative)


def make_forward(
    services: Services,
    unknown: Reply,
    *,
    store_info: bool = False,
    forget_on_success: bool = False,
    on_unavailable: Reply | None = None,
) -> Handler:
    """A call answered by the meeting's backend; ``unknown`` when we do not know the meeting."""

    async def forward(ctx: Context) -> Reply:
        meeting = ctx.meeting
        if meeting is None or meeting.backend_id is None:
            return unknown
        try:
            response = await client_for(services, meeting).call(ctx.request)
        except BackendUnavailable:
            if on_unavailable is not None:
                return on_unavailable
            raise BACKEND_UNAVAILABLE from None
        if response.ok and store_info:
            services.info_writes.submit(
                meeting.id, lambda: _store_info(services, ctx, meeting, response)
            )
        if response.ok and forget_on_success:
            # BBB ends the meeting within seconds; getMeetings should stop listing it now.
            async with services.db.transaction() as tx:
                await meeting_store.delete_meeting(tx, meeting.id)
                await backend_store.refresh_load(tx, meeting.backend_id)
        return passthrough(response)

    return forward


async def _store_info(
    services: Services, ctx: Context, meeting: MeetingRow, response: BackendResponse
) -> None:
    """Remember what getMeetingInfo answered (counts, and the <meeting> for getMeetings)."""
    visible = decode_body(response.body, ctx.frontend.key)
    await _store(
        services, meeting, response, lambda _info: meeting_state.meeting_element_from_info(visible)
    )


async def _store(
    services: Services,
    meeting: MeetingRow,
    response: BackendResponse,
    element: Callable[[parse.MeetingInfo], bytes | None],
) -> None:
    """Parse a backend's answer about one meeting and store it; an unparsable answer or
    ``element`` returning None stores nothing (the next poll will)."""
    try:
        info = parse.meeting(response.body)
    except parse.ResponseError:
        return
    xml = element(info)
    if xml is None or meeting.backend_id is None:
        return
    if not parse.well_formed(xml):
        # getMeetings splices stored elements together: one broken element would break the
        # tenant's every listing. Keep the counts, list the meeting once a poll brings it.
        log.warning("a meeting's XML is not well-formed; left out of getMeetings")
        xml = b""
    state = meeting_state.state_from_info(info, xml.decode("utf-8"))
    await services.state_writes.write(meeting.id, meeting.backend_id, state)


def make_get_meetings(services: Services) -> Handler:
    async def get_meetings(ctx: Context) -> Reply:
        elements = await meeting_store.select_frontend_meeting_xml(services.db, ctx.frontend.id)
        if not elements:
            body = xml_document(
                [
                    ("returncode", "SUCCESS"),
                    ("meetings", RawXML("")),
                    ("messageKey", "noMeetings"),
                    ("message", "no meetings were found on this server"),
                ]
            ).replace(b"<meetings></meetings>", b"<meetings/>", 1)
            return Reply(body, decoded=True)
        body = (
            b"<response><returncode>SUCCESS</returncode><meetings>"
            + elements.encode("utf-8")
            + b"</meetings></response>"
        )
        return Reply(body, decoded=True)

    return get_meetings


def meeting_handlers(services: Services) -> dict[str, Handler]:
    not_found = Reply(failed("notFound"))
    return {
        "": version,
        "create": make_create(services),
        "join": make_join(services),
        "end": make_forward(services, not_found, forget_on_success=True),
        "isMeetingRunning": make_forward(
            services,
            Reply(success(("running", False))),
            on_unavailable=Reply(success(("running", False))),
        ),
        "getMeetingInfo": make_forward(services, not_found, store_info=True),
        "insertDocument": make_forward(
            services,
            Reply(
                xml_document(
                    [("returncode", "FAILED"), ("message", "Meeting with this id not found.")]
                )
            ),
        ),
        "sendChatMessage": make_forward(services, Reply(failed("meetingNotFound"))),
        "getMeetings": make_get_meetings(services),
    }

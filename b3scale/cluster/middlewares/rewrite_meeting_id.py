"""Make meetingIDs unique per frontend on the way in, and map them back on the way out."""

from __future__ import annotations

from dataclasses import replace

from b3scale.bbb.request import Request
from b3scale.bbb.responses import BBBError
from b3scale.bbb.rewrite import MEETING_ID_ELEMENTS, rewrite_elements
from b3scale.cluster import meeting_ids
from b3scale.cluster.chain import Context, Handler, Reply

#: Calls whose meetingID may be a comma-separated list (BBB splits it).
LIST_CALLS = frozenset({"getRecordings"})


def validate_new_meeting_id(meeting_id: str) -> None:
    """BBB's rules for a create's meetingID, on the frontend's ID: the backend only ever sees
    the longer encoded one, and would accept what a real BBB refuses."""
    if not 2 <= len(meeting_id) <= meeting_ids.BBB_MAX_MEETING_ID:
        raise BBBError("validationError", "Meeting ID must be between 2 and 256 characters")
    if "," in meeting_id:
        raise BBBError("validationError", "Meeting ID cannot contain ','")


def encode_request(request: Request, frontend_key: str) -> Request:
    """meetingID (each part of a list, for getRecordings) and parentMeetingID, encoded."""
    meeting_id = request.meeting_id
    if meeting_id and request.call == "create":
        validate_new_meeting_id(meeting_id)
    if meeting_id:
        parts = meeting_id.split(",") if request.call in LIST_CALLS else [meeting_id]
        encoded = [meeting_ids.encode(frontend_key, p) if p else p for p in parts]
        if any(len(e) > meeting_ids.BBB_MAX_MEETING_ID for e in encoded):
            raise BBBError(
                "validationError",
                "Meeting ID too long: with the load balancer's frontend prefix it exceeds "
                "BBB's 256 characters",
            )
        request = request.with_param("meetingID", ",".join(encoded))
    parent = request.get("parentMeetingID")
    if parent:
        request = request.with_param("parentMeetingID", meeting_ids.encode(frontend_key, parent))
    return request


def decode_body(body: bytes, frontend_key: str) -> bytes:
    """The frontend's own meetingIDs back in a backend's XML; other bytes unchanged."""

    return rewrite_elements(
        body, MEETING_ID_ELEMENTS, lambda value: meeting_ids.for_frontend(value, frontend_key)
    )


def rewrite_unique_meeting_id(next_handler: Handler) -> Handler:
    async def handler(ctx: Context) -> Reply:
        key = ctx.frontend.key
        external = ctx.request.meeting_id
        ctx = ctx.with_request(encode_request(ctx.request, key), external_meeting_id=external)
        reply = await next_handler(ctx)
        if reply.decoded or "xml" not in reply.content_type:
            return reply
        return replace(reply, body=decode_body(reply.body, key))

    return handler

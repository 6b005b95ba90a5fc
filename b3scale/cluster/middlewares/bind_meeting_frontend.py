"""Load the meeting a request names, and keep every frontend to its own meetings."""

from __future__ import annotations

from b3scale.cluster.chain import Context, Handler, Middleware, Reply
from b3scale.cluster.route_cache import RouteCache
from b3scale.cluster.router import FOREIGN_MEETING
from b3scale.store.db import Database
from b3scale.store.meetings import MeetingRow, claim_meeting

#: Calls about one meeting (recordings calls name recordings, not meetings; create's
#: placement looks its meeting up itself).
MEETING_CALLS = frozenset(
    {
        "join",
        "end",
        "isMeetingRunning",
        "getMeetingInfo",
        "insertDocument",
        "sendChatMessage",
    }
)


def foreign(meeting: MeetingRow, ctx: Context) -> bool:
    return meeting.frontend_id is not None and meeting.frontend_id != ctx.frontend.id


def bind_meeting_frontend(db: Database, routes: RouteCache) -> Middleware:
    """Calls read the route cache, which NOTIFY keeps in step with the database. ``create``
    passes: its placement (one round trip) finds, claims or refuses the meeting itself."""

    def middleware(next_handler: Handler) -> Handler:
        async def handler(ctx: Context) -> Reply:
            meeting_id = ctx.request.meeting_id
            if ctx.request.call not in MEETING_CALLS or not meeting_id:
                return await next_handler(ctx)  # pass
            meeting = await routes.meeting(meeting_id)
            if meeting is not None and meeting.frontend_id is None:
                # found by a backend poll before its frontend used it: claim it
                await claim_meeting(db, meeting.id, ctx.frontend.id)
            elif meeting is not None and foreign(meeting, ctx):
                raise FOREIGN_MEETING
            return await next_handler(ctx.with_meeting(meeting))

        return handler

    return middleware

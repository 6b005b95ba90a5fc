"""A frontend's limits: attendees (join), meetings (create, decided in the placement),
maxParticipants (create); and the frontend's key as metadata on every create.

Counts come from the meetings table, which the node agents' events, the polls and the
getMeetingInfo answers keep current: the decision needs no call to a node.
"""

from __future__ import annotations

import logging
import time

from b3scale.bbb.responses import failed
from b3scale.cluster import join_pages
from b3scale.cluster.chain import HTML_CONTENT_TYPE, Context, Handler, Middleware, Reply
from b3scale.cluster.stats import ClusterStats
from b3scale.store import meetings as meeting_store
from b3scale.store.db import Database

log = logging.getLogger(__name__)

#: The metadata every create carries to the node: whose meeting (and recording) it is.
FRONTEND_META = "meta_b3s-frontend"
#: A refusal is logged at most once per frontend and limit in this many seconds.
LOG_EVERY = 60.0


class RefusalLog:
    """Counts every refusal (for /metrics) and logs the first of each minute per frontend."""

    def __init__(self, stats: ClusterStats) -> None:
        self._stats = stats
        self._last: dict[tuple[str, str], float] = {}

    def refused(self, frontend: str, reason: str, limit: int) -> None:
        self._stats.refusals[(frontend, reason)] += 1
        now = time.monotonic()
        last = self._last.get((frontend, reason))
        if last is None or now - last >= LOG_EVERY:
            self._last[(frontend, reason)] = now
            log.warning(
                "a frontend reached a limit; calls refused",
                extra={"frontend": frontend, "limit": reason, "value": limit},
            )


def mark_frontend(next_handler: Handler) -> Handler:
    """``meta_b3s-frontend=<key>`` on every create (as b3scale does): recordings on the nodes
    can be traced to their tenant. It replaces a value the frontend sent: a tenant cannot
    pass its meetings off as another's."""

    async def handler(ctx: Context) -> Reply:
        if ctx.request.call != "create":
            return await next_handler(ctx)  # pass
        request = ctx.request.with_param(FRONTEND_META, ctx.frontend.key)
        return await next_handler(ctx.with_request(request))

    return handler


def cap_max_participants(next_handler: Handler) -> Handler:
    """``max_participants: N``: a create's maxParticipants is at most N; absent, 0 (BBB's
    "no limit") or not a number, it becomes N."""

    async def handler(ctx: Context) -> Reply:
        cap = ctx.frontend.max_participants
        if ctx.request.call != "create" or cap is None:
            return await next_handler(ctx)  # pass
        asked = (ctx.request.get("maxParticipants") or "").strip()
        wanted = int(asked) if asked.isdigit() and len(asked) < 10 else 0
        capped = str(cap if wanted <= 0 else min(wanted, cap))
        if asked == capped:
            return await next_handler(ctx)
        request = ctx.request.with_param("maxParticipants", capped)
        return await next_handler(ctx.with_request(request))

    return handler


def is_moderator_join(ctx: Context, moderator_pw: str | None) -> bool:
    request = ctx.request
    if (request.get("role") or "").strip().upper() == "MODERATOR":
        return True
    password = request.get("password")
    return bool(password) and password == moderator_pw


def limit_attendees(db: Database, refusals: RefusalLog) -> Middleware:
    """``attendees_limit: {"limit": N}``: a join while the frontend's meetings hold N or more
    attendees is refused (``exempt_moderators``: moderators' joins are not)."""

    def middleware(next_handler: Handler) -> Handler:
        async def handler(ctx: Context) -> Reply:
            limit = ctx.frontend.attendees_limit
            if ctx.request.call != "join" or limit is None or ctx.meeting is None:
                return await next_handler(ctx)  # pass; an unknown meeting is answered so
            attendees, moderator_pw = await meeting_store.frontend_attendees(
                db, ctx.frontend.id, ctx.meeting.id
            )
            if attendees < limit or (
                ctx.frontend.attendees_limit_exempts_moderators
                and is_moderator_join(ctx, moderator_pw)
            ):
                return await next_handler(ctx)
            refusals.refused(ctx.frontend.key, "attendeesLimitReached", limit)
            if (ctx.request.get("redirect") or "").lower() == "false":
                return Reply(
                    failed(
                        "attendeesLimitReached",
                        "The frontend's meetings have reached their limit of attendees.",
                    )
                )
            return Reply(join_pages.attendees_limit_page(), 403, HTML_CONTENT_TYPE)

        return handler

    return middleware

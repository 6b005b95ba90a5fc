"""The gateway: every BBB call of every frontend goes through :func:`build_gateway`'s chain.

The middleware order is written once, below, in the order the middlewares run.
"""

from __future__ import annotations

import logging

from b3scale.bbb.responses import BBBError, failed
from b3scale.cluster.callbacks import rewrite_callbacks
from b3scale.cluster.chain import Context, Handler, Reply, Step, compose_per_call
from b3scale.cluster.handlers.meetings import meeting_handlers
from b3scale.cluster.handlers.recordings import recording_handlers
from b3scale.cluster.middlewares.bind_meeting_frontend import MEETING_CALLS, bind_meeting_frontend
from b3scale.cluster.middlewares.check_params import refuse_malformed_params
from b3scale.cluster.middlewares.default_presentation import set_default_presentation
from b3scale.cluster.middlewares.rewrite_meeting_id import rewrite_unique_meeting_id
from b3scale.cluster.middlewares.set_params import set_create_params, set_join_params
from b3scale.cluster.middlewares.tenant_policies import (
    cap_max_participants,
    limit_attendees,
    mark_frontend,
)
from b3scale.cluster.services import Services
from b3scale.logs import Episode
from b3scale.store.db import DatabaseError

log = logging.getLogger(__name__)
#: A database outage or overload fails many calls at once: one line per episode.
database_trouble = Episode(log, "database unavailable or busy; calls answered 503")


def build_gateway(services: Services) -> Handler:
    handlers = {**meeting_handlers(services), **recording_handlers(services)}

    async def unsupported(ctx: Context) -> Reply:
        return Reply(failed("unsupportedRequest"))

    create, join = frozenset({"create"}), frozenset({"join"})
    chain_for = compose_per_call(
        [
            Step(refuse_malformed_params),
            Step(rewrite_unique_meeting_id),
            Step(bind_meeting_frontend(services.db, services.routes), MEETING_CALLS),
            Step(set_default_presentation, create),
            Step(set_create_params, create),
            Step(set_join_params, join),
            # After the frontend's own parameters, which must not lift the tenant's limits.
            Step(cap_max_participants, create),
            Step(mark_frontend, create),
            Step(limit_attendees(services.db, services.refusals), join),
            # Last, so callback URLs that frontend settings add are relayed too.
            *(
                [Step(rewrite_callbacks(services.public_url, services.retry_key), create)]
                if services.public_url
                else []
            ),
        ],
        handlers,
        unsupported,
    )

    async def gateway(ctx: Context) -> Reply:
        try:
            return await chain_for(ctx.request.call)(ctx)
        except BBBError as exc:
            return Reply(exc.body(), exc.status)
        except DatabaseError as exc:
            database_trouble.report(call=ctx.request.call, error=str(exc).strip()[:200])
            return Reply(
                failed(
                    "databaseUnavailable",
                    "The load balancer's database is not available. Please try again later.",
                ),
                503,
            )

    return gateway

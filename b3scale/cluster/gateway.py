"""The gateway: every BBB call of every frontend goes through :func:`build_gateway`'s chain.

The middleware order is written once, below, in the order the middlewares run.
"""

from __future__ import annotations

import logging

from b3scale.bbb.responses import BBBError, failed
from b3scale.cluster.callbacks import rewrite_callbacks
from b3scale.cluster.chain import Context, Handler, Reply, compose
from b3scale.cluster.handlers.meetings import meeting_handlers
from b3scale.cluster.handlers.recordings import recording_handlers
from b3scale.cluster.middlewares.bind_meeting_frontend import bind_meeting_frontend
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

    async def dispatch(ctx: Context) -> Reply:
        handler = handlers.get(ctx.request.call)
        if handler is None:
            return Reply(failed("unsupportedRequest"))
        return await handler(ctx)

    chain = compose(
        [
            refuse_malformed_params,
            rewrite_unique_meeting_id,
            bind_meeting_frontend(services.db, services.routes),
            set_default_presentation,
            set_create_params,
            set_join_params,
            # After the frontend's own parameters, which must not lift the tenant's limits.
            cap_max_participants,
            mark_frontend,
            limit_attendees(services.db, services.refusals),
            # Last, so callback URLs that frontend settings add are relayed too.
            *(
                [rewrite_callbacks(services.public_url, services.retry_key)]
                if services.public_url
                else []
            ),
        ],
        dispatch,
    )

    async def gateway(ctx: Context) -> Reply:
        try:
            return await chain(ctx)
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

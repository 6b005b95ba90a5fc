"""``/api/v1/callbacks``: deliveries to frontends, for operators (admin only)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from b3scale.store import callbacks as store
from b3scale.web.api.auth import require_admin
from b3scale.web.api.common import db, json_response
from b3scale.web.api.errors import validation_error
from b3scale.web.api.shapes import time_or_none

routes = web.RouteTableDef()

STATES = ("pending", "failed", "delivered")


def without_query(url: str) -> str:
    """A frontend's URL without its query: frontends put tokens there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@routes.get("/callbacks")
async def list_callbacks(request: web.Request) -> web.Response:
    """Pending and failed deliveries (``?state=`` picks one of pending, failed, delivered)."""
    require_admin(request)
    wanted = request.query.get("state")
    if wanted is not None and wanted not in STATES:
        raise validation_error({"state": [f"must be one of {', '.join(STATES)}"]})
    rows = await store.select_callbacks(db(request), (wanted,) if wanted else STATES[:2])
    return json_response(
        [
            {
                "id": row["id"],
                "frontend": row["frontend"],
                "kind": row["kind"],
                "method": row["method"],
                "url": without_query(row["url"]),
                "state": row["state"],
                "attempts": row["attempts"],
                "next_attempt_at": time_or_none(row["next_attempt_at"]),
                "last_error": row["last_error"],
                "created_at": time_or_none(row["created_at"]),
                "finished_at": time_or_none(row["finished_at"]),
            }
            for row in rows
        ]
    )

"""Small helpers the REST API handlers share: JSON bodies, ids, the database."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aiohttp import web

from b3scale.store.db import Database
from b3scale.web.api.errors import not_found
from b3scale.web.keys import DATABASE


def db(request: web.Request) -> Database:
    return request.config_dict[DATABASE]


def path_uuid(request: web.Request, what: str) -> UUID:
    try:
        return UUID(request.match_info["id"])
    except ValueError:
        raise not_found(what) from None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, default=str))

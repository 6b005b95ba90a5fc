"""Every piece of application state, under a typed key (aiohttp warns on string keys)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from b3scale.config import Config
from b3scale.store.db import Database

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
#: The one HTTP client session every backend call goes through (one connection pool).
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)

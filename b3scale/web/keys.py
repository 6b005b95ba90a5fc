"""Every piece of application state, under a typed key (aiohttp warns on string keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from b3scale.cluster.chain import Handler
from b3scale.cluster.commands import CommandRunner
from b3scale.cluster.controller import Controller
from b3scale.cluster.frontend_cache import FrontendCache
from b3scale.cluster.stats import ClusterStats
from b3scale.config import Config
from b3scale.store.db import Database
from b3scale.store.files import RecordingFiles

if TYPE_CHECKING:
    from b3scale.web.metrics import Metrics

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
#: The one HTTP client session every backend call goes through (one connection pool).
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
#: The BBB gateway chain.
GATEWAY: web.AppKey[Handler] = web.AppKey("gateway")
#: The key that signs join retry tokens (shared by every instance through the database).
RETRY_KEY = web.AppKey("retry_key", bytes)
CONTROLLER = web.AppKey("controller", Controller)
COMMANDS = web.AppKey("commands", CommandRunner)
#: This instance's gateway counters (placements).
STATS = web.AppKey("stats", ClusterStats)
#: This instance's HTTP and BBB counters.
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
#: Frontends by key, kept fresh by LISTEN/NOTIFY.
FRONTENDS = web.AppKey("frontends", FrontendCache)
#: Imported recordings' files (B3SCALE_RECORDINGS_DIR); absent when recordings are not imported.
RECORDING_FILES: web.AppKey[RecordingFiles] = web.AppKey("recording_files")

"""What the gateway's parts share: the database, the HTTP client session, cluster settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from b3scale.bbb.client import BackendClient
from b3scale.cluster.coalesce import CoalescedWrites
from b3scale.cluster.middlewares.tenant_policies import RefusalLog
from b3scale.cluster.route_cache import RouteCache
from b3scale.cluster.state_writes import GroupedStateWrites
from b3scale.cluster.stats import ClusterStats
from b3scale.store.db import Database
from b3scale.store.files import RecordingFiles


@dataclass(frozen=True, slots=True)
class Services:
    db: Database
    http: aiohttp.ClientSession
    #: HMAC key for retry-join tokens; the same on every instance (from the database).
    retry_key: bytes
    reverse_proxy_mode: bool = False
    #: B3SCALE_PUBLIC_URL: callbacks are relayed through b3scale when it is set.
    public_url: str | None = None
    #: Imported recordings' files (B3SCALE_RECORDINGS_DIR); None: recordings are not imported.
    recording_files: RecordingFiles | None = None
    #: B3SCALE_UNIQUE_VOICE_BRIDGES: the default of frontends' ``unique_voice_bridge``.
    unique_voice_bridges: bool = False
    stats: ClusterStats = field(default_factory=ClusterStats)
    #: Where meetings live (joins read it instead of the database); made from ``db``.
    routes: RouteCache = field(init=False)
    #: Calls refused by a frontend's limits: counted, and logged once a minute.
    refusals: RefusalLog = field(init=False)
    #: getMeetingInfo answers stored off the request path, one per meeting per few seconds.
    info_writes: CoalescedWrites = field(default_factory=CoalescedWrites)
    #: Meeting states from nodes' answers (create, getMeetingInfo), written in groups.
    state_writes: GroupedStateWrites = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", RouteCache(self.db))
        object.__setattr__(self, "state_writes", GroupedStateWrites(self.db))
        object.__setattr__(self, "refusals", RefusalLog(self.stats))

    def backend(self, host: str, secret: str, algorithm: str) -> BackendClient:
        return BackendClient(self.http, host, secret, algorithm)


async def load_retry_key(db: Database) -> bytes:
    value = await db.fetch_value("SELECT value FROM cluster_secrets WHERE name = 'retry_token_key'")
    if not value:
        raise RuntimeError("cluster secret retry_token_key is missing; run b3scale db migrate")
    return str(value).encode("ascii")

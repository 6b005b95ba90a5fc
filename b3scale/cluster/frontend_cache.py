"""Frontends kept in memory, so a BBB call costs no frontend query.

Every change to the ``frontends`` table NOTIFYs ``b3scale_frontends`` (a trigger), which every
instance LISTENs to, so a changed secret or a disabled frontend is seen by all instances at
once. Once listening, the cache holds the whole table, so a known frontend's calls never wait
for the database. A key it does not hold is invented (a scan, a flood) or was added a moment ago
(its NOTIFY still on the way): it is looked up, but at most :data:`MISS_LOOKUPS` at a time, so
invented keys cannot take the pool from the real frontends' calls. A key a NOTIFY names is read
again on its next call. While the LISTEN connection is down the cache is bypassed: correctness
first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from b3scale.cluster.background import wait_any
from b3scale.store.db import Database, DatabaseError
from b3scale.store.frontends import Frontend, select_frontend_by_key, select_frontends

log = logging.getLogger(__name__)

CHANNEL = "b3scale_frontends"
#: Lookups of keys the table does not hold, at a time (the rest wait for their turn).
MISS_LOOKUPS = 2


class FrontendCache:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._entries: dict[str, Frontend] = {}
        self._live = False
        #: The entries are the whole table, except the keys in ``_stale``.
        self._complete = False
        #: Keys a NOTIFY named since: read from the database on their next call.
        self._stale: set[str] = set()
        #: Bumped by every invalidation: an answer read before one is not cached after it.
        self._generation = 0
        #: Bumped by every invalidation of all keys: a table read before one is not kept.
        self._epoch = 0
        self._misses = asyncio.Semaphore(MISS_LOOKUPS)
        #: Set once the LISTEN is in place and the table is loaded (tests wait for it).
        self.listening = asyncio.Event()

    async def get(self, key: str) -> Frontend | None:
        if self._live:
            cached = self._entries.get(key)
            if cached is not None:
                return cached
            if self._complete and key not in self._stale:
                async with self._misses:
                    return await self._read(key)
        return await self._read(key)

    async def _read(self, key: str) -> Frontend | None:
        generation = self._generation
        frontend = await select_frontend_by_key(self._db, key)
        if self._live and generation == self._generation:
            if frontend is not None:
                self._entries[key] = frontend
            self._stale.discard(key)
        return frontend

    def invalidate(self, key: str) -> None:
        self._generation += 1
        if key == "*":
            self._epoch += 1
            self._complete = False
            self._entries.clear()
            self._stale.clear()
        else:
            self._entries.pop(key, None)
            self._stale.add(key)

    async def _load_all(self) -> None:
        """The whole table; keys invalidated while it was read stay stale."""
        epoch = self._epoch
        self._stale.clear()
        frontends = await select_frontends(self._db)
        if epoch != self._epoch:
            return  # everything changed meanwhile: the next round reads it again
        self._entries = {f.key: f for f in frontends if f.key not in self._stale}
        self._complete = True

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the NOTIFYs until ``stop``; reconnect after a database outage."""
        while not stop.is_set():
            try:
                async with self._db.listen(CHANNEL) as notifications:
                    self.invalidate("*")
                    self._live = True
                    await self._load_all()
                    self.listening.set()
                    while not stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            key = await notifications.get(stop=stop)
                            self.invalidate(key)
                            if key == "*":
                                await self._load_all()
            except (DatabaseError, OSError) as exc:
                log.warning(
                    "frontend cache off until the database is back", extra={"error": str(exc)}
                )
            finally:
                self._live = False
                self.listening.clear()
                self.invalidate("*")
            await wait_any(stop, timeout=1)

"""Frontends kept in memory, so a BBB call costs no frontend query.

Every change to the ``frontends`` table NOTIFYs ``b3scale_frontends`` (a trigger), which every
instance LISTENs to, so a changed secret or a disabled frontend is seen by all instances at
once. While the LISTEN connection is down the cache is bypassed: correctness first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from b3scale.cluster.background import wait_any
from b3scale.store.db import Database, DatabaseError
from b3scale.store.frontends import Frontend, select_frontend_by_key

log = logging.getLogger(__name__)

CHANNEL = "b3scale_frontends"


class FrontendCache:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._entries: dict[str, Frontend] = {}
        self._live = False
        #: Bumped by every invalidation: an answer read before one is not cached after it.
        self._generation = 0
        #: Set once the LISTEN is in place (tests wait for it).
        self.listening = asyncio.Event()

    async def get(self, key: str) -> Frontend | None:
        if self._live:
            cached = self._entries.get(key)
            if cached is not None:
                return cached
        generation = self._generation
        frontend = await select_frontend_by_key(self._db, key)
        if frontend is not None and self._live and generation == self._generation:
            self._entries[key] = frontend
        return frontend

    def invalidate(self, key: str) -> None:
        self._generation += 1
        if key == "*":
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the NOTIFYs until ``stop``; reconnect after a database outage."""
        while not stop.is_set():
            try:
                async with self._db.listen(CHANNEL) as notifications:
                    self.invalidate("*")
                    self._live = True
                    self.listening.set()
                    while not stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            self.invalidate(await notifications.get(stop=stop))
            except (DatabaseError, OSError) as exc:
                log.warning(
                    "frontend cache off until the database is back", extra={"error": str(exc)}
                )
            finally:
                self._live = False
                self.listening.clear()
                self.invalidate("*")
            await wait_any(stop, timeout=1)

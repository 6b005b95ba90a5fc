"""Where a meeting lives, kept in memory, so a join costs no database query.

Meetings: their backend and frontend, invalidated by the ``b3scale_meetings`` NOTIFY (a trigger
fires when a meeting is placed, moved, claimed or deleted). Backends: address, secret and
health, re-read every second (health changes with time: heartbeats, polls). While the LISTEN
connection is down, every lookup goes to the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from uuid import UUID

from b3scale.cluster.background import wait_any
from b3scale.store.backends import Backend, select_backends
from b3scale.store.db import Database, DatabaseError, Notifications
from b3scale.store.meetings import MeetingRow, select_meeting

log = logging.getLogger(__name__)

CHANNEL = "b3scale_meetings"
#: Beyond this many cached meetings the cache starts over (memory stays bounded).
MAX_MEETINGS = 200_000


class RouteCache:
    def __init__(self, db: Database, backend_refresh: float = 1.0) -> None:
        self._db = db
        self._refresh = backend_refresh
        self._meetings: dict[str, MeetingRow] = {}
        self._backends: dict[UUID, Backend] = {}
        #: Cached meetings joined with their backend as of the last refresh (built once per
        #: refresh, not on every lookup).
        self._joined: dict[str, MeetingRow] = {}
        self._live = False
        self._generation = 0
        self._inflight: dict[str, tuple[int, asyncio.Future[MeetingRow | None]]] = {}
        self.listening = asyncio.Event()

    async def meeting(self, meeting_id: str) -> MeetingRow | None:
        """The meeting with its backend's current address and health; None if unknown."""
        if self._live:
            joined = self._joined.get(meeting_id)
            if joined is not None:
                return joined
            cached = self._meetings.get(meeting_id)
            if cached is not None:
                fresh = self._with_backend(cached)
                if fresh is not None:
                    if len(self._joined) < MAX_MEETINGS:
                        self._joined[meeting_id] = fresh
                    return fresh
        # One query per meeting at a time: the joins of a lecture's first minute arrive
        # together, and each would otherwise take a connection for the same row. A lookup
        # started before an invalidation is not shared with callers after it.
        generation = self._generation
        flight = self._inflight.get(meeting_id)
        if flight is None or flight[0] != generation:
            task = asyncio.ensure_future(self._load(meeting_id, generation))
            self._inflight[meeting_id] = flight = (generation, task)
            task.add_done_callback(lambda _: self._land(meeting_id, task))
        return await asyncio.shield(flight[1])

    def _land(self, meeting_id: str, task: asyncio.Future[MeetingRow | None]) -> None:
        flight = self._inflight.get(meeting_id)
        if flight is not None and flight[1] is task:
            del self._inflight[meeting_id]
        if not task.cancelled():
            task.exception()  # retrieved: every caller has seen it, or none was left to

    async def _load(self, meeting_id: str, generation: int) -> MeetingRow | None:
        row = await select_meeting(self._db, meeting_id)
        if row is not None and self._live and generation == self._generation:
            if len(self._meetings) >= MAX_MEETINGS:
                self._meetings.clear()
                self._joined.clear()
            self._meetings[meeting_id] = row
        return row

    def _with_backend(self, row: MeetingRow) -> MeetingRow | None:
        """The cached meeting with its backend as of the last refresh (<= 1 s old); None
        when the database must answer."""
        if row.backend_id is None:
            return row
        backend = self._backends.get(row.backend_id)
        if backend is None or not backend.healthy:
            # Unknown, or sick as of the last refresh (it may have recovered since): the
            # database decides. Only the common case, a healthy backend, skips the query.
            return None
        return dataclasses.replace(
            row,
            backend_host=backend.host,
            backend_secret=backend.secret,
            backend_algorithm=backend.checksum_algorithm,
            backend_admin_state=backend.admin_state,
            backend_healthy=backend.healthy,
        )

    def invalidate(self, meeting_id: str) -> None:
        self._generation += 1
        self._meetings.pop(meeting_id, None)
        self._joined.pop(meeting_id, None)

    def _set_backends(self, backends: list[Backend]) -> None:
        self._backends = {b.id: b for b in backends}
        self._joined.clear()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the NOTIFYs and refresh the backends until ``stop``."""
        while not stop.is_set():
            try:
                async with self._db.listen(CHANNEL) as notifications:
                    self._meetings.clear()
                    self._generation += 1
                    self._set_backends(await select_backends(self._db))
                    self._live = True
                    self.listening.set()
                    await self._follow(notifications, stop)
            except (DatabaseError, OSError) as exc:
                log.warning(
                    "meeting cache off until the database is back", extra={"error": str(exc)}
                )
            finally:
                self._live = False
                self.listening.clear()
                self._meetings.clear()
                self._joined.clear()
                self._generation += 1
            await wait_any(stop, timeout=1)

    async def _follow(self, notifications: Notifications, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self._refresh
        while not stop.is_set():
            try:
                remaining = max(0.0, next_refresh - loop.time())
                self.invalidate(await notifications.get(timeout=remaining, stop=stop))
            except TimeoutError:
                if stop.is_set():
                    return
                self._set_backends(await select_backends(self._db))
                next_refresh = loop.time() + self._refresh

"""Writes that follow a read off the request path, at most one per key per interval.

getMeetingInfo answers are stored so that getMeetings can answer from the database; a
frontend that asks every second for a meeting with 64 clients would otherwise write the same
row 64 times a second, in line with its answers. Here the first answer in an interval is
written in the background and the others are not written at all (polls and the node agent
keep the row current meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from b3scale.logs import Episode
from b3scale.store.db import DatabaseError

log = logging.getLogger(__name__)

#: Seconds during which a key is written at most once.
INTERVAL = 5.0
#: Keys remembered at most (older ones are forgotten first).
MAX_KEYS = 100_000


class CoalescedWrites:
    def __init__(self, interval: float = INTERVAL) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._trouble = Episode(log, "background writes failed; the next poll will catch up")

    def submit(self, key: str, write: Callable[[], Awaitable[None]]) -> bool:
        """Run ``write`` in the background unless ``key`` was written within the interval."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        if len(self._last) >= MAX_KEYS:
            self._forget_before(now - self._interval)
        self._last[key] = now
        task = asyncio.create_task(self._run(write))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _forget_before(self, moment: float) -> None:
        self._last = {k: t for k, t in self._last.items() if t >= moment}
        if len(self._last) >= MAX_KEYS:
            self._last.clear()

    async def _run(self, write: Callable[[], Awaitable[None]]) -> None:
        try:
            await write()
        except DatabaseError as exc:
            self._trouble.report(error=str(exc).strip()[:200])

    async def drain(self) -> None:
        """Wait for the writes under way (the app is stopping)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

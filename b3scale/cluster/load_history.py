"""The dashboard's load history: every backend sampled into the database on the cluster's
common 30-s ticks, by whichever instances run background jobs (the same tick sampled twice
is one sample)."""

from __future__ import annotations

import asyncio
import logging
import time

from b3scale.cluster.background import wait_any
from b3scale.store import load_samples
from b3scale.store.db import Database, DatabaseError

log = logging.getLogger(__name__)


def seconds_to_next_tick(now: float, every: float = load_samples.SAMPLE_EVERY) -> float:
    """Until a moment just past the next multiple of ``every`` (unix time): sampling there
    lands each round in a tick of its own, however long a round takes."""
    return every - (now % every) + 1.0


class LoadHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await load_samples.record_samples(self._db)
            except DatabaseError as exc:
                log.warning("load history round failed", extra={"error": str(exc)})
            await wait_any(stop, timeout=seconds_to_next_tick(time.time()))

"""Background work: poll every backend, keep health and meetings in step, retire backends.

Each instance runs a controller. Polls are leased per backend in the database, so with
several instances each backend is still polled once per interval; a poll holds no database
connection while it waits for the backend.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from b3scale.bbb.client import BackendUnavailable
from b3scale.bbb.request import Request
from b3scale.cluster.background import run_rounds
from b3scale.cluster.services import Services
from b3scale.cluster.sync import Seen, sync_backend_meetings
from b3scale.store import backends as backend_store
from b3scale.store.backends import Backend

log = logging.getLogger(__name__)

#: Polls whose answers are parsed and written at once: the rest wait (with their answer in
#: hand). Bounds the memory of a round over many large nodes, and its share of the CPU.
SYNCS_AT_ONCE = 4


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    #: Seconds between polls of one backend.
    poll_interval: float = 10.0
    #: Seconds between polls of a backend whose node agent reports (its events carry changes).
    agent_poll_interval: float = 60.0
    #: Timeout of one poll.
    poll_timeout: float = 5.0
    #: Consecutive failed polls before a backend counts as down (hysteresis).
    failures_for_error: int = 2
    #: Consecutive good polls before a backend that was down counts as up again.
    successes_for_ready: int = 2
    #: About this often (seconds) all of a backend's meetings are written again, whatever
    #: else wrote them meanwhile; in between, a poll writes only the meetings whose answer
    #: changed. Each backend's turn falls at its own moment (the first after 50-100 % of
    #: this), so 500 backends are not all rewritten in one round.
    full_sync_interval: float = 900.0


class Controller:
    def __init__(self, services: Services, settings: ControllerSettings) -> None:
        self.services = services
        self.settings = settings
        #: Per backend, its meetings' digests at the last poll by this instance: a meeting
        #: that did not change since costs no parse and no write.
        self._seen: dict[UUID, Seen] = {}
        #: When each backend's next full write is due (time.monotonic()).
        self._next_full_sync: dict[UUID, float] = {}
        self._sync_slots = asyncio.Semaphore(SYNCS_AT_ONCE)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; a NOTIFY on ``b3scale_poll`` starts a round at once."""
        await run_rounds(self.services.db, "b3scale_poll", self.poll_due, 1.0, "controller", stop)

    async def poll_due(self) -> list[Backend]:
        """Poll every backend whose lease ran out (leasing it for the next interval)."""
        due = await backend_store.claim_due_polls(
            self.services.db, self.settings.poll_interval, self.settings.agent_poll_interval
        )
        await asyncio.gather(*(self.poll(b) for b in due))
        return due

    async def poll(self, backend: Backend) -> bool:
        """One poll: health, latency, meetings; True when the backend answered."""
        client = self.services.backend(backend.host, backend.secret, backend.checksum_algorithm)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        try:
            response = await client.call(Request("getMeetings"), self.settings.poll_timeout)
            if not response.ok:
                raise BackendUnavailable(
                    f"getMeetings answered {response.returncode} "
                    f"{response.message_key or ''}".strip()
                )
        except BackendUnavailable as exc:
            log.warning("backend poll failed", extra={"backend": backend.host, "error": str(exc)})
            await backend_store.record_poll_failure(
                self.services.db, backend.id, str(exc), self.settings.failures_for_error
            )
            return False
        latency_ns = int((time.monotonic() - started) * 1e9)
        seen = self._seen.setdefault(backend.id, {})
        now = time.monotonic()
        interval = self.settings.full_sync_interval
        due = self._next_full_sync.setdefault(
            backend.id,
            now + interval * random.uniform(0.5, 1.0),  # noqa: S311 - spreading
        )
        if now >= due:
            seen.clear()  # now and then every meeting is written, whatever else wrote it
            self._next_full_sync[backend.id] = now + interval
        async with self._sync_slots:
            removed = await sync_backend_meetings(
                self.services.db, backend.id, response.body, started_at, seen
            )
        if removed:
            log.info(
                "removed meetings the backend no longer has",
                extra={"backend": backend.host, "count": removed},
            )
        await backend_store.record_poll_success(
            self.services.db, backend.id, latency_ns, self.settings.successes_for_ready
        )
        # A no-op unless an operator decommissioned the backend (checked in the database,
        # which knows the admin state as of now, not as of the lease).
        if await backend_store.delete_if_drained(self.services.db, backend.id):
            log.info("decommissioned backend deleted", extra={"backend": backend.host})
        return True

"""How the node agent reaches the cluster: through the REST API (``ApiLink``, no database
credentials on the node) or straight to the database (``DatabaseLink``, deprecated).

Both take events in arrival order, a heartbeat and resyncs, and say when a resync is due (events
were lost while the cluster could not be reached).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import aiohttp

from b3scale import __version__
from b3scale.agent.events import Event, UserJoined
from b3scale.agent.reports import apply_event
from b3scale.agent.wire import event_to_json
from b3scale.cluster.sync import sync_backend_meetings
from b3scale.store import node_events
from b3scale.store.db import Database, DatabaseError

log = logging.getLogger(__name__)

#: How long a join waits for its meeting to appear (BBB may be faster than the create answer
#: the gateway stores).
WAIT_FOR_MEETING = 5.0
RETRY_EVERY = 0.15


class LinkRefused(Exception):
    """The cluster refuses this agent for good (token revoked or expired, backend deleted)."""


class ClusterLink(Protocol):
    #: Events were lost (the cluster did not answer): the agent resyncs when it can.
    resync_due: bool

    async def heartbeat(self) -> None:
        """Raises LinkRefused when the cluster will not take this agent any more."""

    async def report(self, event: Event) -> None:
        """Hand over one event (in order); never raises for an outage."""

    async def resync(self, get_meetings_body: bytes, started_at: datetime) -> bool:
        """The node's full getMeetings answer; False when the cluster did not take it."""

    async def run(self, stop: asyncio.Event) -> None:
        """Background work until ``stop`` (sending batches)."""

    async def sign_off(self) -> None:
        """The agent stops on purpose."""


class DatabaseLink:
    """Deprecated: the node writes to the cluster's database itself (needs its credentials)."""

    def __init__(self, db: Database, backend_id: UUID) -> None:
        self.db = db
        self.backend_id = backend_id
        self.resync_due = False

    async def heartbeat(self) -> None:
        try:
            alive = await node_events.heartbeat(self.db, self.backend_id)
        except (DatabaseError, OSError) as exc:
            log.warning("heartbeat failed", extra={"error": str(exc)})
            return
        if not alive:
            raise LinkRefused("this backend was deleted from the cluster")

    async def report(self, event: Event) -> None:
        try:
            deadline = time.monotonic() + WAIT_FOR_MEETING
            while not await apply_event(self.db, self.backend_id, event):
                if time.monotonic() > deadline or not isinstance(event, UserJoined):
                    log.warning("join for a meeting this backend does not know; resyncing")
                    self.resync_due = True
                    return
                await asyncio.sleep(RETRY_EVERY)
        except (DatabaseError, OSError) as exc:
            # Lost for now; a resync brings the state back once the database answers.
            self.resync_due = True
            log.warning(
                "event not applied; will resync",
                extra={"event": type(event).__name__, "error": str(exc)},
            )

    async def resync(self, get_meetings_body: bytes, started_at: datetime) -> bool:
        try:
            await sync_backend_meetings(self.db, self.backend_id, get_meetings_body, started_at)
        except (DatabaseError, OSError) as exc:
            self.resync_due = True
            log.warning("resync: database error", extra={"error": str(exc)})
            return False
        self.resync_due = False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

    async def sign_off(self) -> None:
        with contextlib.suppress(DatabaseError, OSError):
            # Stopped on purpose, not crashed: let polls alone judge the node meanwhile.
            await node_events.sign_off(self.db, self.backend_id)


class ApiError(Exception):
    """The API answered with an error (or not at all); ``status`` 0 = no answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiLink:
    """Reports through ``/api/v1/agent/...`` with a ``b3scale:node`` token.

    Events are queued and sent in batches (a node with 500 joins in a minute needs a few
    requests per second, not one per event), in order, one batch at a time. While the API does
    not answer, events wait in memory (up to ``max_pending``; beyond that the oldest are
    dropped) and are sent when it answers again, followed by a resync.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        token: str,
        *,
        batch_interval: float = 0.2,
        batch_size: int = 500,
        max_pending: int = 100_000,
        timeout: float = 10.0,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/") + "/api/v1"
        self._headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": f"b3scale-noded/{__version__}",
        }
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self.timeout = timeout
        self.pending: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_pending)
        self.resync_due = False
        self.sent = 0
        self._wake = asyncio.Event()
        #: One flush at a time: two would send the same batch and drop the next one unsent.
        self._flushing = asyncio.Lock()
        self._down = False
        #: Set when the API refused this agent for good; run() ends and the agent stops.
        self.refused: LinkRefused | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        headers = dict(self._headers)
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self.http.request(
                method,
                self.api_url + path,
                json=payload,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ApiError(0, str(exc) or type(exc).__name__) from None
        try:
            answer = json.loads(body) if body else None
        except ValueError:
            answer = None
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else None
            if status == 401 or (status == 403 and isinstance(answer, dict)):
                raise LinkRefused(
                    f"the API refused the agent's token (HTTP {status}: {message or 'refused'}); "
                    "get a new one: b3scale ctl auth authorize_node_agent"
                )
            raise ApiError(status, f"HTTP {status}: {message or body[:200]!r}")
        return answer

    def _went_down(self, exc: ApiError) -> None:
        if not self._down:
            log.warning(
                "the cluster's API does not answer; events are kept until it does",
                extra={"error": str(exc)},
            )
        self._down = True
        self.resync_due = True

    def _came_back(self) -> None:
        if self._down:
            log.info("the cluster's API answers again", extra={"pending": len(self.pending)})
        self._down = False

    async def heartbeat(self) -> None:
        try:
            await self.call("POST", "/agent/heartbeat")
        except ApiError as exc:
            if exc.status == 404:
                raise LinkRefused("this backend was deleted from the cluster") from None
            self._went_down(exc)
        else:
            self._came_back()
            if self.pending:
                self._wake.set()

    async def report(self, event: Event) -> None:
        if len(self.pending) == self.pending.maxlen:
            self.resync_due = True  # the oldest is about to be dropped
        self.pending.append(event_to_json(event))
        if len(self.pending) >= self.batch_size:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send what is pending every ``batch_interval`` (at once when a batch is full)."""
        while not stop.is_set() and self.refused is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.batch_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except LinkRefused as exc:
                self.refused = exc
        with contextlib.suppress(ApiError, LinkRefused):
            await self.flush()  # what came in before the stop

    async def flush(self) -> None:
        """Send pending events in order, a batch per request, until none is left or the API
        does not answer (then they stay, in order, for the next try)."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        while self.pending:
            batch = [self.pending[i] for i in range(min(self.batch_size, len(self.pending)))]
            try:
                answer = await self.call("POST", "/agent/events", payload={"events": batch})
            except ApiError as exc:
                if 400 <= exc.status < 500:
                    # The server will not take this batch as it is; sending it again would block
                    # every later event. Dropped, and a resync repairs what it carried.
                    log.error("the API refused a batch of events", extra={"error": str(exc)})
                    for _ in batch:
                        self.pending.popleft()
                    self.resync_due = True
                    continue
                self._went_down(exc)
                return
            self._came_back()
            for _ in batch:
                self.pending.popleft()
            self.sent += len(batch)
            if isinstance(answer, dict) and answer.get("unknown"):
                self.resync_due = True

    async def resync(self, get_meetings_body: bytes, started_at: datetime) -> bool:
        try:
            await self.flush()
            if self.pending:
                return False
            await self.call(
                "POST", "/agent/resync", data=get_meetings_body, content_type="application/xml"
            )
        except ApiError as exc:
            self._went_down(exc)
            return False
        self._came_back()
        self.resync_due = False
        return True

    async def sign_off(self) -> None:
        with contextlib.suppress(ApiError, LinkRefused):
            await self.call("DELETE", "/agent/heartbeat")

"""The node agent: heartbeat, BBB's Redis events into the database, resync after outages.

One task writes the heartbeat every second; another follows Redis. Events are applied one at a
time in arrival order (a join and the leave after it must not swap). After every (re)connect
to Redis the agent asks its own BBB for getMeetings, because pub/sub drops what was published
while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from b3scale.agent.events import (
    Event,
    MeetingCreated,
    MeetingDestroyed,
    MeetingEnded,
    UserJoined,
    UserLeft,
    parse_event,
)
from b3scale.bbb.client import BackendClient, BackendUnavailable
from b3scale.bbb.request import Request
from b3scale.cluster import meeting_ids
from b3scale.cluster.sync import sync_backend_meetings
from b3scale.store import node_events
from b3scale.store.db import Database, DatabaseError

log = logging.getLogger(__name__)

#: akka-apps' channels (from- and to-); b3scale subscribes the same way.
CHANNEL_PATTERN = "*akka-apps-redis-channel"
#: How long a user event waits for its meeting to appear (BBB may be faster than the create
#: answer the gateway stores).
WAIT_FOR_MEETING = 5.0
RETRY_EVERY = 0.15
MAX_BACKOFF = 10.0


class NodeAgent:
    def __init__(
        self,
        db: Database,
        client: BackendClient,
        backend_id: UUID,
        redis_url: str,
        *,
        heartbeat_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.client = client
        self.backend_id = backend_id
        self.redis_url = redis_url
        self.heartbeat_interval = heartbeat_interval
        #: Set while subscribed to Redis (tests wait for it).
        self.subscribed = asyncio.Event()
        self.applied = 0
        self._stopping = asyncio.Event()
        #: Events were lost to a database outage: resync when the event stream is quiet.
        self._resync_due = False
        self._last_resync = 0.0

    def stop(self) -> None:
        """Finish the event in hand, then return from :meth:`run` (SIGTERM).

        A flag rather than a task cancel: cancelling redis-py's pub/sub read can leave its
        connection closing for ever.
        """
        self._stopping.set()

    async def run(self) -> None:
        """Until :meth:`stop`: heartbeat and events."""
        heartbeat = asyncio.create_task(self.heartbeat_loop())
        try:
            await self.event_loop()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        with contextlib.suppress(DatabaseError, OSError):
            # Stopped on purpose, not crashed: let polls alone judge the node meanwhile.
            await node_events.sign_off(self.db, self.backend_id)

    async def heartbeat_loop(self) -> None:
        while True:
            try:
                if not await node_events.heartbeat(self.db, self.backend_id):
                    log.error("this backend was deleted from the cluster; heartbeat stops")
                    return
            except (DatabaseError, OSError) as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)})
            await asyncio.sleep(self.heartbeat_interval)

    async def event_loop(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            connection = aioredis.from_url(self.redis_url)
            pubsub = connection.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PATTERN)
                log.info("following BBB events", extra={"redis": _redacted(self.redis_url)})
                self.subscribed.set()
                backoff = 0.5
                await self.resync()
                while not self._stopping.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is not None:
                        await self.handle(message.get("data"))
                    elif self._resync_due and time.monotonic() - self._last_resync > 2:
                        await self.resync()
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning(
                    "redis connection lost; reconnecting",
                    extra={"error": str(exc), "retry_in": backoff},
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await self._stopping.wait()
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(2):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                        await connection.aclose()

    async def handle(self, data: Any) -> None:
        """Apply one raw message; a bad message or a database hiccup is logged, not raised."""
        if not isinstance(data, bytes | str):
            return
        event = parse_event(data)
        if event is None:
            return
        try:
            await self.apply(event)
            self.applied += 1
        except (DatabaseError, OSError) as exc:
            # Lost for now; a resync brings the state back once the database answers.
            self._resync_due = True
            log.warning(
                "event not applied; will resync",
                extra={"event": type(event).__name__, "error": str(exc)},
            )

    async def apply(self, event: Event) -> None:
        backend = self.backend_id
        match event:
            case MeetingCreated():
                decoded = meeting_ids.decode(event.meeting_id)
                key, external = decoded if decoded else (None, event.meeting_id)
                await node_events.meeting_created(
                    self.db,
                    backend,
                    meeting_id=event.meeting_id,
                    external_id=external,
                    frontend_key=key,
                    internal_id=event.internal_id,
                    name=event.name,
                    is_breakout=event.is_breakout,
                    parent_id=event.parent_id,
                    create_time=event.create_time,
                )
            case UserJoined():
                joined = await self._when_known(
                    lambda: node_events.add_attendee(
                        self.db,
                        backend,
                        event.internal_id,
                        internal_user_id=event.internal_user_id,
                        user_id=event.user_id,
                        full_name=event.full_name,
                        role=event.role,
                        client_type=event.client_type,
                    )
                )
                if joined is None:
                    log.warning("join for a meeting this backend does not know; resyncing")
                    await self.resync()
            case UserLeft():
                await node_events.remove_attendee(
                    self.db, backend, event.internal_id, event.internal_user_id
                )
            case MeetingEnded():
                await node_events.meeting_ended(self.db, backend, event.internal_id)
            case MeetingDestroyed():
                await node_events.meeting_destroyed(self.db, backend, event.internal_id)

    async def _when_known(self, attempt: Callable[[], Awaitable[bool | None]]) -> bool | None:
        deadline = time.monotonic() + WAIT_FOR_MEETING
        while True:
            result = await attempt()
            if result is not None or time.monotonic() > deadline:
                return result
            await asyncio.sleep(RETRY_EVERY)

    async def resync(self) -> None:
        """The local BBB's getMeetings into the database (what events may have missed)."""
        self._last_resync = time.monotonic()
        started = datetime.now(UTC)
        try:
            response = await self.client.call(Request("getMeetings"), timeout=10)
        except BackendUnavailable as exc:
            log.warning("resync: the local BBB does not answer", extra={"error": str(exc)})
            return
        if not response.ok:
            log.warning("resync: getMeetings failed", extra={"key": response.message_key})
            return
        try:
            await sync_backend_meetings(self.db, self.backend_id, response.body, started)
        except (DatabaseError, OSError) as exc:
            self._resync_due = True
            log.warning("resync: database error", extra={"error": str(exc)})
            return
        self._resync_due = False


def _redacted(url: str) -> str:
    _, at, tail = url.rpartition("@")
    return f"redis://***@{tail}" if at else url

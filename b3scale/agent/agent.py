"""The node agent: heartbeat, BBB's Redis events to the cluster, resync after outages.

One task sends the heartbeat every second; another follows Redis. Events go to the cluster's
link (the REST API, or the database directly) in arrival order (a join and the leave after it
must not swap). After every (re)connect to Redis, and whenever the link lost events, the agent
asks its own BBB for getMeetings, because pub/sub drops what was published while nobody
listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from b3scale.agent.events import parse_event
from b3scale.agent.links import ClusterLink, LinkRefused
from b3scale.bbb.client import BackendClient, BackendUnavailable
from b3scale.bbb.request import Request

log = logging.getLogger(__name__)

#: akka-apps' channels (from- and to-); b3scale subscribes the same way.
CHANNEL_PATTERN = "*akka-apps-redis-channel"
MAX_BACKOFF = 10.0


class NodeAgent:
    def __init__(
        self,
        link: ClusterLink,
        client: BackendClient,
        redis_url: str,
        *,
        heartbeat_interval: float = 1.0,
    ) -> None:
        self.link = link
        self.client = client
        self.redis_url = redis_url
        self.heartbeat_interval = heartbeat_interval
        #: Set while subscribed to Redis (tests wait for it).
        self.subscribed = asyncio.Event()
        self.applied = 0
        self._stopping = asyncio.Event()
        self._last_resync = 0.0
        #: Why the cluster refused this agent (it stopped); None after a normal stop.
        self.refused: LinkRefused | None = None

    def stop(self) -> None:
        """Finish the event in hand, then return from :meth:`run` (SIGTERM).

        A flag rather than a task cancel: cancelling redis-py's pub/sub read can leave its
        connection closing for ever.
        """
        self._stopping.set()

    async def run(self) -> None:
        """Until :meth:`stop` or a refusal: heartbeat, events, and the link's own work."""
        heartbeat = asyncio.create_task(self.heartbeat_loop())
        link = asyncio.create_task(self._link_loop())
        try:
            await self.event_loop()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await link
        if self.refused is None:
            await self.link.sign_off()

    async def _link_loop(self) -> None:
        await self.link.run(self._stopping)
        refused = getattr(self.link, "refused", None)
        if isinstance(refused, LinkRefused):
            self._refuse(refused)

    def _refuse(self, refusal: LinkRefused) -> None:
        log.error("the cluster refused this agent; stopping", extra={"error": str(refusal)})
        self.refused = refusal
        self._stopping.set()

    async def heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.link.heartbeat()
            except LinkRefused as refusal:
                self._refuse(refusal)
                return
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
                    elif self.link.resync_due and time.monotonic() - self._last_resync > 2:
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
        """Hand one raw message to the link; a message that is no event is skipped."""
        if not isinstance(data, bytes | str):
            return
        event = parse_event(data)
        if event is None:
            return
        await self.link.report(event)
        self.applied += 1

    async def resync(self) -> None:
        """The local BBB's getMeetings to the cluster (what events may have missed)."""
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
            await self.link.resync(response.body, started)
        except LinkRefused as refusal:
            self._refuse(refusal)


def _redacted(url: str) -> str:
    _, at, tail = url.rpartition("@")
    return f"redis://***@{tail}" if at else url

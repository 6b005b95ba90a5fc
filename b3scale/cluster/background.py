"""The shape of every background job: do a round, then sleep until a NOTIFY or a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import LiteralString

from b3scale.store.db import Database, DatabaseError

log = logging.getLogger(__name__)


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Until one of ``events`` is set, or ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()  # Event.wait holds nothing: safe to cancel


async def run_rounds(
    db: Database,
    channel: LiteralString,
    round_: Callable[[], Awaitable[object]],
    interval: float,
    name: str,
    stop: asyncio.Event,
) -> None:
    """``round_()`` now, and again after every NOTIFY on ``channel`` or ``interval`` seconds,
    until ``stop`` is set. A database failure in a round is logged; the next round comes
    anyway. Stopping waits for the round in hand: cancelling aiopg half-way through a query
    can leave its pool waiting for ever."""
    wake = asyncio.Event()

    async def listen() -> None:
        while True:
            try:
                async with db.listen(channel) as notifications:
                    while True:
                        await notifications.get()
                        wake.set()
            except DatabaseError:
                await asyncio.sleep(5)

    listener = asyncio.create_task(listen())
    try:
        while not stop.is_set():
            try:
                await round_()
            except DatabaseError as exc:
                log.warning(f"{name} round failed", extra={"error": str(exc)})
            wake.clear()
            await wait_any(wake, stop, timeout=interval)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

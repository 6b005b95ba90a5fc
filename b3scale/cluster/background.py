"""The shape of every background job: do a round, then sleep until a NOTIFY or a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import LiteralString

from b3scale.store.db import Database, DatabaseError

log = logging.getLogger(__name__)


async def run_rounds(
    db: Database,
    channel: LiteralString,
    round_: Callable[[], Awaitable[object]],
    interval: float,
    name: str,
) -> None:
    """``round_()`` now, and again after every NOTIFY on ``channel`` or ``interval`` seconds,
    until cancelled. A database failure in a round is logged; the next round comes anyway."""
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
        while True:
            try:
                await round_()
            except DatabaseError as exc:
                log.warning(f"{name} round failed", extra={"error": str(exc)})
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

"""Running queued commands (``end_all_meetings`` so far); a NOTIFY wakes the runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from b3scale.bbb.client import BackendUnavailable
from b3scale.bbb.request import Request
from b3scale.cluster.services import Services
from b3scale.store import backends as backend_store
from b3scale.store import commands as command_store
from b3scale.store import meetings as meeting_store
from b3scale.store.commands import Command
from b3scale.store.db import DatabaseError

log = logging.getLogger(__name__)

END_ALL_MEETINGS = "end_all_meetings"
#: Finished commands are kept this long for ``GET`` (then deleted).
KEEP_FINISHED_SECONDS = 24 * 3600


async def end_all_meetings(services: Services, params: dict[str, Any]) -> dict[str, int]:
    """End every meeting on a backend; the rows go as the ends succeed."""
    backend = await backend_store.select_backend(services.db, UUID(str(params["backend_id"])))
    if backend is None:
        raise LookupError("backend not found")
    client = services.backend(backend.host, backend.secret, backend.checksum_algorithm)
    ended = failed = 0
    for row in await meeting_store.select_meetings(services.db, backend_id=backend.id):
        try:
            response = await client.call(Request.build("end", {"meetingID": row["id"]}))
        except BackendUnavailable:
            failed += 1
            continue
        if response.ok or response.message_key == "notFound":
            await meeting_store.delete_meeting(services.db, row["id"])
            ended += 1
        else:
            failed += 1
    await backend_store.refresh_load(services.db, backend.id)
    return {"ended": ended, "failed": failed}


Action = Callable[[Services, dict[str, Any]], Awaitable[Any]]
ACTIONS: dict[str, Action] = {END_ALL_MEETINGS: end_all_meetings}


class CommandRunner:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._wake = asyncio.Event()

    async def run_pending(self) -> list[Command]:
        """Run queued commands until none is left; returns those this runner ran."""
        ran = []
        while (command := await command_store.claim_next(self.services.db)) is not None:
            await self._run(command)
            ran.append(command)
        return ran

    async def _run(self, command: Command) -> None:
        action = ACTIONS.get(command.action)
        try:
            if action is None:
                raise LookupError(f"unknown action {command.action!r}")
            result = await action(self.services, command.params)
        except (LookupError, ValueError, KeyError) as exc:
            log.warning("command failed", extra={"action": command.action, "error": str(exc)})
            await command_store.finish(self.services.db, command.id, "error", str(exc))
            return
        await command_store.finish(self.services.db, command.id, "success", result)

    async def run(self, fallback_interval: float = 30.0) -> None:
        """Wait for NOTIFY (or ``fallback_interval``), run what is queued, repeat."""
        listener = asyncio.create_task(self._listen())
        try:
            while True:
                try:
                    await self.run_pending()
                    await command_store.delete_finished_before(
                        self.services.db, KEEP_FINISHED_SECONDS
                    )
                except DatabaseError as exc:
                    log.warning("command runner round failed", extra={"error": str(exc)})
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=fallback_interval)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self) -> None:
        while True:
            try:
                async with self.services.db.listen("b3scale_commands") as notifications:
                    while True:
                        await notifications.get()
                        self._wake.set()
            except DatabaseError:
                await asyncio.sleep(5)

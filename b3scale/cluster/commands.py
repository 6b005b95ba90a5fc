"""Running queued commands (``end_all_meetings`` so far); a NOTIFY wakes the runner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from b3scale.bbb.client import BackendUnavailable
from b3scale.bbb.request import Request
from b3scale.cluster.background import run_rounds
from b3scale.cluster.services import Services
from b3scale.store import backends as backend_store
from b3scale.store import commands as command_store
from b3scale.store import meetings as meeting_store
from b3scale.store.commands import Command

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

    async def run(self, stop: asyncio.Event, fallback_interval: float = 30.0) -> None:
        """Run what is queued whenever a NOTIFY says so (or every ``fallback_interval``),
        until ``stop``."""
        await run_rounds(
            self.services.db,
            "b3scale_commands",
            self._round,
            fallback_interval,
            "command runner",
            stop,
        )

    async def _round(self) -> None:
        await self.run_pending()
        await command_store.delete_finished_before(self.services.db, KEEP_FINISHED_SECONDS)

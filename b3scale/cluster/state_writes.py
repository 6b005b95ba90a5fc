"""Meeting states from nodes' answers, written in groups.

Every create stores what its node answered (so getMeetings lists the meeting at once), and
getMeetingInfo answers are stored too. One statement per answer costs a round trip and a
database statement each; here the answers that arrive while one statement is under way wait
and go together in the next (a group commit): a lone create is written at once, 64 racing
creates in a few statements. A caller returns once its own state is written, so a frontend
reads its writes as before.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from b3scale.store.db import Database
from b3scale.store.meetings import STATES_BATCH, MeetingState, update_meeting_states

Report = tuple[str, UUID, MeetingState, "asyncio.Future[None]"]


class GroupedStateWrites:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[Report] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Statements sent so far (each holds up to STATES_BATCH states).
        self.statements = 0

    async def write(self, meeting_id: str, backend_id: UUID, state: MeetingState) -> None:
        """Store ``state`` for the meeting on ``backend_id`` (nothing if it moved or ended);
        raises what the database raised."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((meeting_id, backend_id, state, written))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await written

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[:STATES_BATCH]
            del self._pending[:STATES_BATCH]
            self.statements += 1
            try:
                await update_meeting_states(self._db, [(m, b, s) for m, b, s, _ in batch])
            except Exception as exc:  # every waiting caller hears of it, as if it wrote alone
                for *_, written in batch:
                    if not written.done():
                        written.set_exception(exc)
            else:
                for *_, written in batch:
                    if not written.done():
                        written.set_result(None)

    async def drain(self) -> None:
        """Wait for the writes under way (the app is stopping)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

"""The recording calls (getRecordings and friends)."""

from __future__ import annotations

from b3scale.bbb.responses import failed
from b3scale.cluster.chain import Context, Handler, Reply
from b3scale.cluster.services import Services

RECORDING_CALLS = (
    "getRecordings",
    "publishRecordings",
    "updateRecordings",
    "deleteRecordings",
    "getRecordingTextTracks",
    "putRecordingTextTrack",
)


def recording_handlers(services: Services) -> dict[str, Handler]:
    async def not_yet(ctx: Context) -> Reply:
        return Reply(failed("unsupportedRequest", "Recordings are not supported yet."))

    return dict.fromkeys(RECORDING_CALLS, not_yet)

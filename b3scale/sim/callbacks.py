"""The calls a BBB node makes to the integration's URLs (spec/bbb-api.md §2.12a).

When a meeting ends: ``meetingEndedURL`` (a GET as given) and ``meta_endCallbackUrl`` (a GET with
``meetingID`` and ``recordingmarks`` added), and ``meta_analytics-callback-url`` (a POST of the
learning-dashboard JSON with ``Authorization: Bearer`` HS512 signed with the node's secret).
When a recording of it is ready: ``meta_bbb-recording-ready-url`` (a POST, form
``signed_parameters`` = HS256 JWT of ``meeting_id`` and ``record_id``, the node's secret).
"""

from __future__ import annotations

import logging
import time
import warnings
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from b3scale.sim.state import Meeting

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _jwt(claims: dict[str, object], secret: str, algorithm: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


async def _call(method: str, url: str, **kwargs: object) -> None:
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:  # noqa: SIM117
            async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
                await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.info("callback failed", extra={"url": url, "error": str(exc)})


async def meeting_ended(meeting: Meeting, secret: str, ended_url: str) -> None:
    if ended_url:
        await _call("GET", ended_url)
    end_callback = meeting.metadata.get("endcallbackurl")
    if end_callback:
        marks = "true" if meeting.record else "false"
        await _call(
            "GET",
            _with_query(end_callback, {"recordingmarks": marks, "meetingID": meeting.meeting_id}),
        )
    analytics = meeting.metadata.get("analytics-callback-url")
    if analytics:
        document = {
            "version": "1.0",
            "meeting_id": meeting.meeting_id,
            "internal_meeting_id": meeting.internal_id,
            "data": {
                "metadata": {"meeting_name": meeting.name},
                "duration": max(0, (meeting.end_time - meeting.start_time) // 1000),
                "start": meeting.start_time,
                "finish": meeting.end_time,
            },
        }
        token = _jwt({"exp": int(time.time()) + 86400}, secret, "HS512")
        await _call(
            "POST",
            analytics,
            json=document,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "BigBlueButton"},
        )


async def recording_ready(meeting: Meeting, secret: str, record_id: str) -> None:
    url = meeting.metadata.get("bbb-recording-ready-url")
    if not url:
        return
    signed = _jwt({"meeting_id": meeting.meeting_id, "record_id": record_id}, secret, "HS256")
    await _call("POST", url, data={"signed_parameters": signed})

"""Calls to BBB backends over the one shared aiohttp ClientSession.

The session (and so its connection pool) is owned by the application and passed in; a client
object is cheap and made per backend row. Redirects are never followed: a join's 302 is an
answer, not a hop. Bodies come back raw, with the returncode read by a byte scan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from b3scale.bbb import parse
from b3scale.bbb.checksum import DEFAULT_SIGNING_ALGORITHM
from b3scale.bbb.request import Request

#: Default per-call timeout; getRecordings on a big node and create with uploads can be slow.
DEFAULT_TIMEOUT = 30.0


class BackendUnavailable(Exception):
    """The backend could not be reached, timed out, or answered with a server error."""


@dataclass(frozen=True, slots=True)
class BackendResponse:
    status: int
    content_type: str
    body: bytes
    location: str | None
    latency: float

    @property
    def returncode(self) -> str | None:
        return parse.returncode(self.body)

    @property
    def ok(self) -> bool:
        return self.returncode == "SUCCESS"

    @property
    def message_key(self) -> str | None:
        return parse.message_key(self.body)


@dataclass(frozen=True, slots=True)
class BackendClient:
    """One BBB node: its API base URL, secret and the algorithm it wants requests signed with."""

    session: aiohttp.ClientSession
    api_base: str
    secret: str
    algorithm: str = DEFAULT_SIGNING_ALGORITHM

    def url(self, request: Request) -> str:
        return request.url(self.api_base, self.secret, self.algorithm)

    async def call(self, request: Request, timeout: float = DEFAULT_TIMEOUT) -> BackendResponse:
        """Send ``request`` (method, body and content type kept); raises BackendUnavailable."""
        headers = {"Content-Type": request.content_type} if request.content_type else {}
        started = time.monotonic()
        try:
            async with self.session.request(
                request.method,
                # encoded=True: yarl would otherwise re-encode the query (%2C -> ",") and
                # break the checksum, which covers the exact bytes.
                URL(self.url(request), encoded=True),
                data=request.body if request.body else None,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise BackendUnavailable(f"{self.api_base}: {reason}") from None
        if resp.status >= 500:
            raise BackendUnavailable(f"{self.api_base}: HTTP {resp.status}")
        return BackendResponse(
            status=resp.status,
            content_type=resp.headers.get("Content-Type", ""),
            body=body,
            location=resp.headers.get("Location"),
            latency=time.monotonic() - started,
        )

    async def get_meetings(self, timeout: float = DEFAULT_TIMEOUT) -> list[parse.MeetingInfo]:
        """The node's meetings; raises BackendUnavailable also for a FAILED answer."""
        response = await self.call(Request("getMeetings"), timeout)
        if not response.ok:
            raise BackendUnavailable(
                f"{self.api_base}: getMeetings answered {response.returncode} "
                f"{response.message_key or ''}".rstrip()
            )
        try:
            return parse.meetings(response.body)
        except parse.ResponseError as exc:
            raise BackendUnavailable(f"{self.api_base}: {exc}") from None

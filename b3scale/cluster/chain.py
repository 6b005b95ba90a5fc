"""The gateway's handler chain: its types and how it is assembled.

A handler takes a :class:`Context` (the verified request and its frontend) and returns a
:class:`Reply`. A middleware wraps a handler. :func:`compose` takes the middlewares in the order
they run, so the list that assembles the gateway reads top to bottom as it executes;
:func:`compose_per_call` does the same once per BBB call, leaving out the steps a call does not
need (a join passes five middlewares instead of ten).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from b3scale.bbb.request import Request
from b3scale.bbb.responses import XML_CONTENT_TYPE
from b3scale.store.frontends import Frontend
from b3scale.store.meetings import MeetingRow

HTML_CONTENT_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    """What goes back to the frontend."""

    body: bytes
    status: int = 200
    content_type: str = XML_CONTENT_TYPE
    location: str | None = None
    #: Meeting IDs in the body are already the frontend's own (answered from the database).
    decoded: bool = False
    #: Close the connection after this answer (the request's body was not read to its end).
    close: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """One BBB call from a frontend, as it travels down the chain."""

    frontend: Frontend
    request: Request
    #: The meeting the request names, once a middleware has looked it up (not for create:
    #: its placement finds the meeting itself).
    meeting: MeetingRow | None = None
    #: The meetingID as the frontend wrote it (before it was made unique).
    external_meeting_id: str | None = None
    #: Path and query the frontend requested (for the join retry page).
    original_url: str = ""

    # Built with the constructor, not dataclasses.replace: every call goes through a few of
    # these, and replace's generic machinery costs twice as much.
    def with_request(self, request: Request, external_meeting_id: str | None = None) -> Context:
        return Context(
            self.frontend,
            request,
            self.meeting,
            self.external_meeting_id if external_meeting_id is None else external_meeting_id,
            self.original_url,
        )

    def with_meeting(self, meeting: MeetingRow | None) -> Context:
        return Context(
            self.frontend,
            self.request,
            meeting,
            self.external_meeting_id,
            self.original_url,
        )


Handler = Callable[[Context], Awaitable[Reply]]
Middleware = Callable[[Handler], Handler]


def compose(middlewares: Sequence[Middleware], terminal: Handler) -> Handler:
    """One handler running ``middlewares`` in the given order, then ``terminal``."""
    handler = terminal
    for middleware in reversed(middlewares):
        handler = middleware(handler)
    return handler


@dataclass(frozen=True, slots=True)
class Step:
    """A middleware and the calls it acts on (None: every call). The middleware still checks
    the call itself; the scope only spares the other calls a hop through it."""

    middleware: Middleware
    calls: frozenset[str] | None = None

    def applies_to(self, call: str) -> bool:
        return self.calls is None or call in self.calls


def compose_per_call(
    steps: Sequence[Step], terminals: Mapping[str, Handler], fallback: Handler
) -> Callable[[str], Handler]:
    """For each call of ``terminals``, one handler running the steps that apply to it in the
    given order, then its terminal; any other call runs the steps for every call, then
    ``fallback``. Built once: a request pays only for the steps of its call."""
    chains = {
        call: compose([s.middleware for s in steps if s.applies_to(call)], terminal)
        for call, terminal in terminals.items()
    }
    other = compose([s.middleware for s in steps if s.calls is None], fallback)
    return lambda call: chains.get(call, other)

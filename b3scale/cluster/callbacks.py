"""Callbacks through the balancer: BBB nodes call b3scale, b3scale calls the frontend.

At create, every callback URL a node would call (``meetingEndedURL``, ``meta_endCallbackUrl``,
``meta_*-recording-ready-url``, ``meta_analytics-callback-url``, other ``meta_*-callback-url``)
is replaced by ``<B3SCALE_PUBLIC_URL>/b3s/callback/<token>``; the token is signed with the
cluster's key and names the frontend, its meetingID, the kind and the original URL.

When a node calls, the call is checked (token; the JWT a node signs with its secret; meeting
IDs that belong to the token's frontend), rewritten for the frontend (its own meetingIDs, JWTs
re-signed with its secret and the same algorithm) and queued in the database; it is answered
at once. :class:`CallbackDelivery` delivers the queue: leased by one instance, retried with
exponential backoff on connection errors, timeouts and 5xx for a day, given up on 4xx.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import aiohttp
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from b3scale.bbb.request import Request
from b3scale.cluster import meeting_ids, tokens
from b3scale.cluster.background import run_rounds
from b3scale.cluster.chain import Context, Handler, Middleware, Reply
from b3scale.store import backends as backend_store
from b3scale.store import callbacks as store
from b3scale.store import frontends as frontend_store
from b3scale.store.callbacks import Callback
from b3scale.store.db import Database

log = logging.getLogger(__name__)

PURPOSE = "callback"
PATH = "/b3s/callback/"
#: Query, form and JSON fields that carry a meetingID.
ID_FIELDS = frozenset({"meetingID", "meeting_id", "meetingId", "external_meeting_id"})
JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]
#: How long a frontend gets to answer one delivery.
ATTEMPT_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
#: Retries stop after this long: the frontend has been unreachable for a day.
GIVE_UP_AFTER_SECONDS = 24 * 3600
MAX_BACKOFF_SECONDS = 3600
#: Delivered and given-up callbacks are kept this long for operators.
KEEP_FINISHED_SECONDS = 7 * 24 * 3600


class Refused(Exception):
    """A node's call that will not be delivered (forged, altered, or not this frontend's)."""


def kind_of(name: str) -> str | None:
    """Which callback a create parameter names, or None for any other parameter."""
    lowered = name.lower()
    if lowered == "meetingendedurl":
        return "end"
    if not lowered.startswith("meta_"):
        return None
    meta = lowered[5:]
    if meta == "endcallbackurl":
        return "end"
    if meta.endswith("-recording-ready-url"):
        return "recording-ready"
    if meta == "analytics-callback-url":
        return "analytics"
    if meta.endswith(("-callback-url", "callbackurl")):
        return "other"
    return None


def rewrite_create(
    request: Request, public_url: str, key: bytes, frontend_id: UUID, meeting_id: str
) -> Request:
    """``request`` with every callback URL pointing at b3scale."""
    for name, value in list(request.items()):
        kind = kind_of(name)
        if kind is None or not value.lower().startswith(("http://", "https://")):
            continue
        claims = {"f": str(frontend_id), "m": meeting_id, "k": kind, "u": value}
        request = request.with_param(name, public_url + PATH + tokens.sign(key, PURPOSE, claims))
    return request


def rewrite_callbacks(public_url: str, key: bytes) -> Middleware:
    """The gateway middleware (after the meetingID is made unique)."""

    def middleware(next_handler: Handler) -> Handler:
        async def handler(ctx: Context) -> Reply:
            if ctx.request.call == "create" and ctx.external_meeting_id:
                request = rewrite_create(
                    ctx.request, public_url, key, ctx.frontend.id, ctx.external_meeting_id
                )
                ctx = ctx.with_request(request)
            return await next_handler(ctx)

        return handler

    return middleware


# -- a node calls ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeCall:
    method: str
    query: str
    content_type: str
    authorization: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _map_id(value: str, frontend_key: str, expected: str) -> str:
    """The frontend's own meetingID for a node's; Refused if it is not the token's meeting."""
    mine = meeting_ids.for_frontend(value, frontend_key)
    if mine != expected:
        raise Refused("a meeting ID that is not this callback's meeting")
    return mine


def _map_pairs(pairs: Iterable[tuple[str, str]], key: str, meeting: str) -> list[tuple[str, str]]:
    return [(k, _map_id(v, key, meeting) if k in ID_FIELDS else v) for k, v in pairs]


def _map_json(value: Any, key: str, meeting: str) -> Any:
    if isinstance(value, dict):
        return {
            k: _map_id(v, key, meeting)
            if k in ID_FIELDS and isinstance(v, str)
            else _map_json(v, key, meeting)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_map_json(v, key, meeting) for v in value]
    return value


def _with_query(url: str, extra: list[tuple[str, str]]) -> str:
    if not extra:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _verify_node_jwt(token: str, node_secrets: list[str]) -> tuple[dict[str, Any], str]:
    """The claims and algorithm of a JWT one of the nodes signed; Refused otherwise."""
    try:
        algorithm = str(jwt.get_unverified_header(token).get("alg"))
    except jwt.InvalidTokenError:
        raise Refused("not a JWT") from None
    if algorithm not in JWT_ALGORITHMS:
        raise Refused("a JWT algorithm BBB does not use")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        for secret in node_secrets:
            try:
                claims = jwt.decode(
                    token, secret, algorithms=[algorithm], options={"verify_exp": False}
                )
            except jwt.InvalidTokenError:
                continue
            return claims, algorithm
    raise Refused("a JWT no node signed")


def _sign(claims: dict[str, Any], secret: str, algorithm: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


def translate(
    call: NodeCall,
    kind: str,
    url: str,
    frontend_key: str,
    frontend_secret: str,
    meeting: str,
    node_secrets: list[str],
) -> Delivery:
    """What the frontend gets for what a node sent; Refused when it must get nothing."""
    query = _map_pairs(parse_qsl(call.query, keep_blank_values=True), frontend_key, meeting)
    if kind == "end":
        return Delivery("GET", _with_query(url, query), {}, b"")
    form_type = "application/x-www-form-urlencoded"
    if kind == "recording-ready":
        form = dict(parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True))
        claims, algorithm = _verify_node_jwt(form.get("signed_parameters", ""), node_secrets)
        claims = _map_json(claims, frontend_key, meeting)
        body = urlencode({"signed_parameters": _sign(claims, frontend_secret, algorithm)})
        return Delivery("POST", _with_query(url, query), {"Content-Type": form_type}, body.encode())
    headers: dict[str, str] = {}
    body_out = call.body
    if call.content_type.startswith("application/json") and call.body:
        try:
            document = json.loads(call.body)
        except ValueError:
            raise Refused("a JSON body that is not JSON") from None
        body_out = json.dumps(_map_json(document, frontend_key, meeting)).encode()
        headers["Content-Type"] = "application/json"
    elif call.content_type.startswith(form_type):
        pairs = parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True)
        body_out = urlencode(_map_pairs(pairs, frontend_key, meeting)).encode()
        headers["Content-Type"] = form_type
    elif call.body:
        headers["Content-Type"] = call.content_type or "application/octet-stream"
    scheme, _, bearer = call.authorization.partition(" ")
    if kind == "analytics" or (scheme.lower() == "bearer" and bearer):
        claims, algorithm = _verify_node_jwt(bearer.strip(), node_secrets)
        claims = _map_json(claims, frontend_key, meeting)
        headers["Authorization"] = f"Bearer {_sign(claims, frontend_secret, algorithm)}"
    return Delivery(call.method, _with_query(url, query), headers, body_out)


async def accept(db: Database, key: bytes, token: str, call: NodeCall) -> int:
    """Queue what a node's call means for the frontend; returns the queued id.
    Raises Refused for a token b3scale did not sign, a frontend that is gone, or a call
    that does not verify."""
    claims = tokens.read(key, PURPOSE, token)
    if claims is None:
        raise Refused("a callback token b3scale did not sign")
    try:
        frontend_id = UUID(str(claims["f"]))
        meeting, kind, url = str(claims["m"]), str(claims["k"]), str(claims["u"])
    except (KeyError, ValueError):
        raise Refused("a callback token without its claims") from None
    frontend = await frontend_store.select_frontend(db, frontend_id)
    if frontend is None:
        raise Refused("a callback for a frontend that no longer exists")
    secrets = [b.secret for b in await backend_store.select_backends(db)]
    delivery = translate(call, kind, url, frontend.key, frontend.secret, meeting, secrets)
    return await store.enqueue(
        db, frontend.id, kind, delivery.method, delivery.url, delivery.headers, delivery.body
    )


# -- delivery --------------------------------------------------------------------------------


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: 2, 4, 8 ... up to an hour."""
    return float(min(2**attempts, MAX_BACKOFF_SECONDS))


class CallbackDelivery:
    """Delivers queued callbacks; any number of instances may run one (leases)."""

    def __init__(self, db: Database, http: aiohttp.ClientSession, counts: Counter[str]) -> None:
        self._db = db
        self._http = http
        #: delivered, retried, given_up: this instance's counts (for /metrics).
        self.counts = counts

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        await run_rounds(
            self._db, "b3scale_callbacks", self.deliver_due, interval, "callback delivery", stop
        )

    async def deliver_due(self) -> int:
        """Deliver what is due, batch after batch; returns how many were attempted."""
        attempted = 0
        while batch := await store.claim_due(self._db):
            await asyncio.gather(*(self._deliver(c) for c in batch))
            attempted += len(batch)
        await store.delete_finished_before(self._db, KEEP_FINISHED_SECONDS)
        return attempted

    async def _deliver(self, callback: Callback) -> None:
        try:
            async with self._http.request(
                callback.method,
                callback.url,
                data=callback.body or None,
                headers=callback.headers,
                allow_redirects=False,  # never followed, to private addresses or anywhere
                timeout=ATTEMPT_TIMEOUT,
            ) as response:
                status = response.status  # the body is neither read nor stored
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            await self._failed(callback, f"{type(exc).__name__}: {exc}"[:300], retry=True)
            return
        if status < 400:
            await store.finish(self._db, callback.id, "delivered", None)
            self.counts["delivered"] += 1
        else:
            await self._failed(callback, f"HTTP {status}", retry=status >= 500)

    async def _failed(self, callback: Callback, error: str, *, retry: bool) -> None:
        age = (datetime.now(UTC) - callback.created_at).total_seconds()
        if retry and age < GIVE_UP_AFTER_SECONDS:
            await store.retry_later(self._db, callback.id, backoff(callback.attempts), error)
            self.counts["retried"] += 1
            return
        await store.finish(self._db, callback.id, "failed", error)
        self.counts["given_up"] += 1
        log.warning(
            "callback given up",
            extra={
                "id": callback.id,
                "kind": callback.kind,
                "attempts": callback.attempts,
                "error": error,
                "host": urlsplit(callback.url).netloc,
            },
        )

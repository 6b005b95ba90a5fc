"""JWT bearer authentication for the REST API.

Tokens are HMAC-signed with B3SCALE_API_JWT_SECRET: HS256 (what PyJWT makes by default, as in
the seed README), HS384 (what b3scale signs) or HS512. ``alg: none`` and every other algorithm
are refused, and ``exp``/``nbf`` are enforced when present. The ``scope`` claim (a
space-separated string, RFC 8693) grants ``b3scale`` (user), ``b3scale:admin`` or
``b3scale:node`` (a node agent: only ``/agent/...``, for the backend bound to its ``sub``).
"""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass

import jwt
from aiohttp import web
from aiohttp.typedefs import Handler
from jwt.warnings import InsecureKeyLengthWarning

from b3scale.web.api.errors import ApiError

ALGORITHMS = ["HS256", "HS384", "HS512"]
#: RFC 7518 asks for HMAC keys at least as long as the hash (32 bytes for HS256).
RECOMMENDED_SECRET_LENGTH = 32
SCOPE_USER = "b3scale"
SCOPE_ADMIN = "b3scale:admin"
SCOPE_NODE = "b3scale:node"
#: Where a token with only the node scope may go: the agent's endpoints, the recordings push,
#: and the index.
NODE_PATHS = ("/agent/", "/recording-files/", "/recordings-import")
NODE_EXACT_PATHS = frozenset({"", "/"})

#: Paths under /api/v1 anyone may read (the API description).
PUBLIC_PATHS = frozenset({"/openapi.json", "/docs"})


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str | None
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return SCOPE_ADMIN in self.scopes

    @property
    def is_node(self) -> bool:
        return SCOPE_NODE in self.scopes

    def owns(self, account_ref: str | None) -> bool:
        """Whether a user may see and change what belongs to ``account_ref``: only their own,
        and a token without a subject owns nothing (not even what has no owner)."""
        return self.subject is not None and account_ref == self.subject


PRINCIPAL = web.RequestKey("principal", Principal)
SECRET = web.AppKey("jwt_secret", str)


def decode_token(token: str, secret: str) -> Principal:
    try:
        with warnings.catch_warnings():
            # A short secret is reported once at start, not at every request.
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims = jwt.decode(
                token, secret, algorithms=ALGORITHMS, options={"require": [], "verify_aud": False}
            )
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise ApiError(401, "token_not_yet_valid", "the token is not valid yet (nbf)") from None
    except jwt.InvalidTokenError:
        raise ApiError(
            401, "invalid_token", "invalid token: bad signature, algorithm or format"
        ) from None
    scopes = scopes_of(claims.get("scope"))
    if not scopes & {SCOPE_USER, SCOPE_ADMIN, SCOPE_NODE}:
        raise ApiError(
            403,
            "invalid_credentials",
            "the credentials provided are lacking the scope: b3scale, b3scale:admin or "
            "b3scale:node",
        )
    return Principal(subject_of(claims.get("sub")), scopes)


def lacking_user_scope() -> ApiError:
    return ApiError(
        403,
        "invalid_credentials",
        "the credentials provided are lacking the scope: b3scale or b3scale:admin",
    )


def scopes_of(claim: object) -> frozenset[str]:
    """A space-separated string (RFC 8693) or a list of strings; anything else grants nothing."""
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list) and all(isinstance(item, str) for item in claim):
        return frozenset(claim)
    return frozenset()


def subject_of(claim: object) -> str | None:
    """The ``sub`` claim as an account reference; missing, empty or not a string: nobody.

    A token without a subject must own nothing: frontends created by an admin have no
    ``account_ref``, and a None subject must never match them.
    """
    if isinstance(claim, str) and claim.strip():
        return claim
    return None


def sign_token(secret: str, subject: str, scopes: str, lifetime: float | None) -> str:
    """A token as ``b3scale ctl`` makes one (HS256; ``iat`` and a random ``jti``, with ``exp``
    when a lifetime is given)."""
    claims: dict[str, object] = {
        "sub": subject,
        "scope": scopes,
        "iat": int(time.time()),
        "jti": secrets.token_hex(8),
    }
    if lifetime is not None:
        claims["exp"] = int(time.time() + lifetime)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm="HS256")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.route.resource is not None and (
        request.path.removeprefix("/api/v1") in PUBLIC_PATHS
    ):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "missing or malformed bearer token")
    who = decode_token(token.strip(), request.app[SECRET])
    if not who.scopes & {SCOPE_USER, SCOPE_ADMIN}:
        # A node agent's token: its own backend's agent endpoints, nothing else (it must not
        # pass for a user whose account_ref happens to equal its ref).
        path = request.path.removeprefix("/api/v1")
        if not (path.startswith(NODE_PATHS) or path in NODE_EXACT_PATHS):
            raise lacking_user_scope()
    request[PRINCIPAL] = who
    return await handler(request)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require_node(request: web.Request) -> str:
    """The agent reference of a node agent's token (its ``sub``); 403 for any other token."""
    who = request[PRINCIPAL]
    if not who.is_node or who.subject is None:
        raise ApiError(403, "forbidden", "b3scale:node scope and a subject (sub) required")
    return who.subject


def require_admin(request: web.Request) -> Principal:
    who = request[PRINCIPAL]
    if not who.is_admin:
        raise ApiError(403, "forbidden", "b3scale:admin scope required")
    return who

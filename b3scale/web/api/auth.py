"""JWT bearer authentication for the REST API.

Tokens are HMAC-signed with B3SCALE_API_JWT_SECRET: HS256 (what PyJWT makes by default, as in
the seed README), HS384 (what b3scale signs) or HS512. ``alg: none`` and every other algorithm
are refused, and ``exp``/``nbf`` are enforced when present. The ``scope`` claim (a
space-separated string, RFC 8693) grants ``b3scale`` (user) or ``b3scale:admin``.
"""

from __future__ import annotations

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

#: Paths under /api/v1 anyone may read (the API description).
PUBLIC_PATHS = frozenset({"/openapi.json", "/docs"})


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str | None
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return SCOPE_ADMIN in self.scopes


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
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split() if isinstance(scope, str) else map(str, scope or []))
    if not scopes & {SCOPE_USER, SCOPE_ADMIN}:
        raise ApiError(
            403,
            "invalid_credentials",
            "the credentials provided are lacking the scope: b3scale or b3scale:admin",
        )
    subject = claims.get("sub")
    return Principal(str(subject) if subject is not None else None, scopes)


def sign_token(secret: str, subject: str, scopes: str, lifetime: float | None) -> str:
    """A token as ``b3scale ctl`` makes one (HS256; with ``exp`` when a lifetime is given)."""
    claims: dict[str, object] = {"sub": subject, "scope": scopes, "iat": int(time.time())}
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
    request[PRINCIPAL] = decode_token(token.strip(), request.app[SECRET])
    return await handler(request)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require_admin(request: web.Request) -> Principal:
    who = request[PRINCIPAL]
    if not who.is_admin:
        raise ApiError(403, "forbidden", "b3scale:admin scope required")
    return who

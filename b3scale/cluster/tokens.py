"""Signed tokens in URLs: a JSON payload and its HMAC, signed with a key every instance shares.

Each use names its purpose, which is part of what is signed, so a token made for one purpose
(a join retry link) is worthless for another (a callback).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{purpose}.{payload}".encode(), hashlib.sha256).digest())


def sign(key: bytes, purpose: str, claims: dict[str, Any]) -> str:
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, purpose, payload)}"


def read(key: bytes, purpose: str, token: str) -> dict[str, Any] | None:
    """The claims of a token signed for ``purpose`` with ``key``; None for anything else
    (a token from a URL or a cookie may hold anything, non-ASCII too)."""
    if not token.isascii():
        return None
    payload, _, signature = token.partition(".")
    if not signature or not hmac.compare_digest(signature, _mac(key, purpose, payload)):
        return None
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None

"""Protected recordings: playback links that work for a while, and the cookie they leave.

getRecordings writes a protected recording's playback URL as ``/b3s/recording/<token>`` on the
playback host; the token names the recording and the real URL and expires after an hour.
Following it sets a cookie for that one recording (``b3s_rec_<recordID>``) and redirects to
the player; the recording's files answer 403 without the cookie. A link copied from one
tenant's page opens only the recording it was made for, and only for an hour.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from b3scale.cluster import tokens

LINK_PURPOSE = "recording-link"
COOKIE_PURPOSE = "recording-cookie"
#: How long a playback link from getRecordings works.
LINK_TTL = 3600
#: How long the cookie lets a browser fetch the recording's files (a long lecture, paused).
COOKIE_TTL = 8 * 3600
COOKIE_PREFIX = "b3s_rec_"


def protected_link(key: bytes, record_id: str, url: str, now: float | None = None) -> str:
    """``url`` (on the playback host) behind a signed, expiring link on the same host."""
    token = tokens.sign(
        key, LINK_PURPOSE, {"r": record_id, "u": url, "exp": int((now or time.time()) + LINK_TTL)}
    )
    target = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, f"/b3s/recording/{token}", "", ""))


def read_link(key: bytes, token: str, now: float | None = None) -> tuple[str, str] | None:
    """(record ID, playback URL) of a valid, unexpired link token; None otherwise."""
    claims = tokens.read(key, LINK_PURPOSE, token)
    if claims is None:
        return None
    record_id, url, expires = claims.get("r"), claims.get("u"), claims.get("exp")
    if not isinstance(record_id, str) or not isinstance(url, str) or not isinstance(expires, int):
        return None
    if expires < (now or time.time()):
        return None
    return record_id, url


def cookie_name(record_id: str) -> str:
    return COOKIE_PREFIX + record_id


def cookie_value(key: bytes, record_id: str, now: float | None = None) -> str:
    return tokens.sign(
        key, COOKIE_PURPOSE, {"r": record_id, "exp": int((now or time.time()) + COOKIE_TTL)}
    )


def cookie_allows(key: bytes, value: str | None, record_id: str, now: float | None = None) -> bool:
    """Whether the cookie's value lets its holder fetch ``record_id``'s files now."""
    claims = tokens.read(key, COOKIE_PURPOSE, value) if value else None
    if claims is None or claims.get("r") != record_id:
        return False
    expires = claims.get("exp")
    return isinstance(expires, int) and expires >= (now or time.time())

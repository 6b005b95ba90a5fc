"""The HTML a browser sees on join: the redirect, the retry page, "meeting not found".

Retry tokens carry the original join URL (which holds the frontend's checksum) and are signed
with a key every instance shares, so any instance can serve the retry and nobody can forge a
redirect through it (b3scale's tokens are unsigned).
"""

from __future__ import annotations

import time
from html import escape

from b3scale.cluster import tokens

#: A retry link stays valid this long (the browser retries every second meanwhile).
RETRY_TOKEN_TTL = 3600


RETRY_PURPOSE = "retry-join"
#: Where a join the retry page repeats may lead: the gateway's paths, nothing else.
JOIN_PATHS = ("/bbb/", "/bigbluebutton/")


def make_retry_token(key: bytes, url: str, now: float | None = None) -> str:
    return tokens.sign(
        key, RETRY_PURPOSE, {"url": url, "exp": int((now or time.time()) + RETRY_TOKEN_TTL)}
    )


def read_retry_token(key: bytes, token: str, now: float | None = None) -> str | None:
    """The join URL in a valid, unexpired token for a gateway path; else None."""
    data = tokens.read(key, RETRY_PURPOSE, token)
    url = data.get("url") if data else None
    expires = data.get("exp") if data else None
    if not isinstance(url, str) or not isinstance(expires, int):
        return None
    if expires < (now or time.time()) or not url.startswith(JOIN_PATHS) or "//" in url:
        return None
    return url


def _page(title: str, body: str, refresh: str = "") -> bytes:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"{refresh}<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:4em auto;max-width:32em;color:#333}</style>"
        f"</head><body>{body}</body></html>"
    ).encode()


def redirect_page(url: str) -> bytes:
    link = escape(url, quote=True)
    return _page(
        "Joining the meeting",
        f'<p>Joining the meeting&hellip; <a href="{link}">Continue</a></p>',
        f'<meta http-equiv="refresh" content="0; url={link}">',
    )


def retry_page(join_url: str) -> bytes:
    link = escape(join_url, quote=True)
    return _page(
        "Please wait",
        "<h1>Please wait</h1><p>The meeting's server is not ready yet. This page tries again "
        f'every few seconds.</p><p><a href="{link}">Try again now</a></p>',
        f'<meta http-equiv="refresh" content="3; url={link}">',
    )


def meeting_not_found_page() -> bytes:
    return _page(
        "Meeting not found",
        "<h1>Meeting not found</h1><p>This meeting does not exist or has already ended. "
        "Please go back and start or join it again.</p>",
    )


def attendees_limit_page() -> bytes:
    return _page(
        "The meeting is full",
        "<h1>No more participants right now</h1><p>This organisation's meetings have reached "
        "the number of participants it may have at once. Please try again later, when others "
        "have left.</p>",
    )

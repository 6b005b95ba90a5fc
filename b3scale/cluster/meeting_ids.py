"""Meeting IDs that cannot collide between frontends on a shared backend.

The encoding is b3scale's (spec/b3scale.md §3.2), so meetings keep their IDs when a cluster
moves from the Go b3scale: base64url, with padding, of the JSON array
``[frontend_key, meeting_id, "b3scl"]`` in Go's JSON spelling.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json

MARKER = "b3scl"
#: BBB rejects longer meeting IDs (validationError).
BBB_MAX_MEETING_ID = 256

# Go's encoding/json escapes these for HTML safety; spelled the same, IDs match byte for byte.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=16384)
def encode(frontend_key: str, meeting_id: str) -> str:
    """Cached: every call about a meeting encodes its ID again (joins, polls, lookups)."""
    document = _JSON.encode([frontend_key, meeting_id, MARKER]).translate(_GO_ESCAPES)
    return base64.urlsafe_b64encode(document.encode("utf-8")).decode("ascii")


def decode(value: str) -> tuple[str, str] | None:
    """``(frontend_key, meeting_id)`` for an ID we made; None for anything else."""
    if not value or len(value) % 4:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if (
        isinstance(document, list)
        and len(document) == 3
        and all(isinstance(part, str) for part in document)
        and document[2] == MARKER
    ):
        return document[0], document[1]
    return None


def _split_breakout(value: str) -> tuple[str, str]:
    """BBB names breakout rooms ``<parent meetingID>-<sequence>``: the parent and the suffix."""
    base, sep, sequence = value.rpartition("-")
    return (base, sep + sequence) if sep and sequence.isdigit() else (value, "")


def owner(value: str) -> str | None:
    """The frontend key of a backend-side meetingID, also of a breakout room's."""
    decoded = decode(value) or decode(_split_breakout(value)[0])
    return decoded[0] if decoded else None


def for_frontend(value: str, frontend_key: str) -> str | None:
    """The meetingID as ``frontend_key`` knows it; None if it is not one of its meetings."""
    decoded = decode(value)
    if decoded is not None:
        return decoded[1] if decoded[0] == frontend_key else None
    base, suffix = _split_breakout(value)
    decoded = decode(base) if suffix else None
    return decoded[1] + suffix if decoded and decoded[0] == frontend_key else None

"""Rewrite a few elements of a backend's XML and leave every other byte as it was.

The balancer must map meetingIDs back for the frontend (spec/b3scale.md §3.2) but must not
re-serialise the document: b3scale's re-encoding drops unknown elements, preview image URLs and
the XML declaration (§2.8). So the chosen elements are found with a byte scan and only their
text is replaced.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from xml.sax.saxutils import escape, unescape

#: Elements that carry a frontend-visible meeting ID in BBB responses.
MEETING_ID_ELEMENTS = ("meetingID", "parentMeetingID", "meetingId")

Mapper = Callable[[str], str | None]


@functools.lru_cache(maxsize=16)
def _pattern(names: frozenset[str]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
    return re.compile(
        rb"<(?P<name>" + alternatives + rb")>"
        rb"(?:<!\[CDATA\[(?P<cdata>.*?)\]\]>|(?P<text>[^<]*))"
        rb"</(?P=name)>",
        re.DOTALL,
    )


def rewrite_elements(body: bytes, names: Collection[str], mapper: Mapper) -> bytes:
    """Replace the text of every ``<name>text</name>`` for which ``mapper`` returns a new value.

    ``mapper`` gets the decoded text and returns the replacement, or None to keep it.
    Everything outside the replaced texts stays byte-identical.
    """
    if not any(name.encode() in body for name in names):
        return body

    def substitute(match: re.Match[bytes]) -> bytes:
        cdata = match["cdata"]
        raw = cdata if cdata is not None else match["text"]
        text = raw.decode("utf-8") if cdata is not None else unescape(raw.decode("utf-8"))
        new = mapper(text)
        if new is None or new == text:
            return match[0]
        name = match["name"]
        return b"<" + name + b">" + escape(new).encode("utf-8") + b"</" + name + b">"

    return _pattern(frozenset(names)).sub(substitute, body)

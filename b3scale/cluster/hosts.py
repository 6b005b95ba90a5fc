"""One spelling for a backend's address, wherever it is typed (API, ctl, node agent)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

#: Where bbb-web serves its API below a server URL.
API_PATH = "/bigbluebutton/api/"


def normalize_host(value: str) -> str:
    """``https://bbb1.example.net`` -> ``https://bbb1.example.net/bigbluebutton/api/``.

    A URL with a path keeps it (with one trailing slash); scheme and host are lower-cased.
    Raises ValueError for anything but an http(s) URL with a host.
    """
    value = value.strip()
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("a URL has no spaces or control characters (use punycode for IDN)")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    path = parts.path.rstrip("/")
    path = f"{path}/" if path else API_PATH
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))

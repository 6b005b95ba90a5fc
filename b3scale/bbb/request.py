"""A BBB API request as received: the call, its parameters in order and raw encoding, the body.

Parameters keep their bytes on the wire, because the checksum covers exactly those bytes and
clients encode differently (``+`` or ``%20`` for a space, sorted or not). Changing a parameter
replaces only that parameter's raw text; the rest of the query is forwarded untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus

from b3scale.bbb import checksum

#: Media types whose body carries the parameters (form POST, spec §1.2).
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def decode_component(raw: str) -> str:
    """A query component decoded (``+`` is a space); most need no decoding at all."""
    if "%" not in raw:
        return raw.replace("+", " ") if "+" in raw else raw
    return unquote_plus(raw)


class Param:
    """One ``key=value`` pair, as it was written on the wire, and decoded (once: every
    middleware reads the parameters, and a request is copied on each change)."""

    __slots__ = ("key", "raw_key", "raw_value", "value")

    def __init__(self, raw_key: str, raw_value: str) -> None:
        self.raw_key = raw_key
        self.raw_value = raw_value
        self.key = decode_component(raw_key)
        self.value = decode_component(raw_value)

    @classmethod
    def encoded(cls, key: str, value: str) -> Param:
        """A pair we set ourselves, from decoded text: encoded once, and not decoded back
        (``encode_value`` round-trips, so the decoded text is what we were given)."""
        param = cls.__new__(cls)
        param.raw_key = encode_value(key)
        param.raw_value = encode_value(value)
        param.key = key
        param.value = value
        return param

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        return self.raw_key == other.raw_key and self.raw_value == other.raw_value

    def __hash__(self) -> int:
        return hash((self.raw_key, self.raw_value))

    def __repr__(self) -> str:
        return f"Param({self.raw_key!r}, {self.raw_value!r})"

    def render(self) -> str:
        return f"{self.raw_key}={self.raw_value}"


def parse_query(raw_query: str) -> tuple[Param, ...]:
    """Split a raw query into pairs; empty segments (a leading ``&``) are dropped."""
    params = []
    for segment in raw_query.split("&"):
        if not segment:
            continue
        raw_key, _, raw_value = segment.partition("=")
        params.append(Param(raw_key, raw_value))
    return tuple(params)


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def encode_value(value: str) -> str:
    """How we write a value we set ourselves: RFC 3986 percent-encoding (BBB accepts any)."""
    if _UNRESERVED.fullmatch(value):
        return value
    if _BASE64URL.fullmatch(value):
        return value.replace("=", "%3D")  # meeting IDs we encode
    return quote(value, safe="-_.~")


@dataclass(frozen=True, slots=True)
class Request:
    """A BBB API call without its checksum; what the gateway verifies, rewrites and forwards."""

    call: str
    params: tuple[Param, ...] = ()
    method: str = "GET"
    body: bytes = b""
    content_type: str | None = None
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for param in self.params:
            index.setdefault(param.key, param.value)
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_query(
        cls,
        call: str,
        raw_query: str,
        *,
        method: str = "GET",
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """From a raw query string; a ``checksum`` parameter is left out."""
        params = tuple(p for p in parse_query(raw_query) if p.key != "checksum")
        return cls(call, params, method, body, content_type)

    @classmethod
    def build(cls, call: str, pairs: dict[str, str] | None = None, **kwargs: object) -> Request:
        """A new request from decoded values (for our own calls to backends)."""
        params = tuple(Param.encoded(k, v) for k, v in (pairs or {}).items())
        return cls(call, params, **kwargs)  # type: ignore[arg-type]

    # -- reading --------------------------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key``, decoded (BBB reads the first value)."""
        return self._index.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def items(self) -> Iterator[tuple[str, str]]:
        """Decoded pairs in order, repeated keys included."""
        for param in self.params:
            yield param.key, param.value

    @property
    def meeting_id(self) -> str | None:
        return self.get("meetingID")

    @property
    def query(self) -> str:
        """The raw query string, without the checksum."""
        return "&".join(p.render() for p in self.params)

    # -- changing (new objects; requests are immutable) --------------------------------------

    def with_param(self, key: str, value: str) -> Request:
        """``key`` set to ``value``: replaces every occurrence in place, else appends."""
        new = Param.encoded(key, value)
        if key not in self._index:
            return self._with_params((*self.params, new))
        params: list[Param] = []
        placed = False
        for param in self.params:
            if param.key != key:
                params.append(param)
            elif not placed:
                params.append(new)
                placed = True
        return self._with_params(tuple(params))

    def without_param(self, key: str) -> Request:
        return self._with_params(tuple(p for p in self.params if p.key != key))

    def with_body(self, body: bytes, content_type: str | None) -> Request:
        return Request(self.call, self.params, self.method, body, content_type)

    def _with_params(self, params: tuple[Param, ...]) -> Request:
        return Request(self.call, params, self.method, self.body, self.content_type)

    # -- forwarding ------------------------------------------------------------------------

    def signed_query(self, secret: str, algorithm: str = checksum.DEFAULT_SIGNING_ALGORITHM) -> str:
        """The query with a ``checksum`` for ``secret`` appended."""
        query = self.query
        digest = checksum.compute(self.call, query, secret, algorithm)
        return f"{query}&checksum={digest}" if query else f"checksum={digest}"

    def url(
        self, api_base: str, secret: str, algorithm: str = checksum.DEFAULT_SIGNING_ALGORITHM
    ) -> str:
        """The signed URL of this call on a backend whose API base is ``api_base``."""
        return f"{api_base_url(api_base)}{self.call}?{self.signed_query(secret, algorithm)}"


def api_base_url(host: str) -> str:
    """A backend's API base with exactly one trailing slash: ``https://node/bigbluebutton/api/``."""
    return host.rstrip("/") + "/"

"""BBB checksums, exactly as bbb-web computes them (spec/bbb-api.md §1).

``checksum = hex(H(call + query_without_checksum + secret))`` where the query string is the raw
one as received (still percent-encoded, in the client's order) and H is chosen by the length of
the checksum the client sent. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable, Sequence
from urllib.parse import quote_plus

#: Algorithm name -> hex digest length; bbb-web picks the algorithm by this length.
ALGORITHMS: dict[str, int] = {"sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
_BY_LENGTH: dict[int, str] = {length: name for name, length in ALGORITHMS.items()}

#: The constructors themselves: hashlib.new looks the name up on every call.
_HASHES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

#: What we sign requests to backends with unless a backend asks for another algorithm.
DEFAULT_SIGNING_ALGORITHM = "sha256"


def compute(call: str, query: str, secret: str, algorithm: str = DEFAULT_SIGNING_ALGORITHM) -> str:
    """The hex checksum of ``call`` with the raw ``query`` (without checksum) and ``secret``."""
    digest = _HASHES.get(algorithm)
    if digest is None:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    return digest((call + query + secret).encode("utf-8")).hexdigest()


def find_checksum(raw_query: str) -> str | None:
    """The raw value of the first ``checksum`` parameter, or None when there is none."""
    for pair in raw_query.split("&"):
        if pair.startswith("checksum="):
            return pair[len("checksum=") :]
    return None


def strip_checksum(raw_query: str, checksum: str) -> str:
    """bbb-web's three string replacements, in its order (any position in the query)."""
    query = raw_query.replace("&checksum=" + checksum, "")
    query = query.replace("checksum=" + checksum + "&", "")
    return query.replace("checksum=" + checksum, "")


def algorithm_for(checksum: str) -> str | None:
    """The algorithm a checksum of this length was made with; None for any other length."""
    return _BY_LENGTH.get(len(checksum))


def _matches_any(supplied: str, expected: Iterable[str]) -> bool:
    """Constant time per secret, and every secret compared: which one matched does not show."""
    results = [hmac.compare_digest(e, supplied) for e in expected]
    return any(results)


def _secrets(secret: str | Sequence[str]) -> Sequence[str]:
    return (secret,) if isinstance(secret, str) else secret


def verify(
    call: str,
    raw_query: str,
    secret: str | Sequence[str],
    allowed: Collection[str] = tuple(ALGORITHMS),
) -> bool:
    """True when the query's checksum matches (with ``secret``, or any of several during a
    rollover); ``allowed`` restricts the algorithms accepted."""
    checksum = find_checksum(raw_query)
    if not checksum:
        return False
    algorithm = algorithm_for(checksum)
    if algorithm is None or algorithm not in allowed:
        return False
    signed = strip_checksum(raw_query, checksum)
    return _matches_any(
        checksum.lower(), (compute(call, signed, s, algorithm) for s in _secrets(secret))
    )


def java_url_encode(value: str) -> str:
    """Java's URLEncoder.encode(value, UTF-8): space as ``+``, ``*`` kept, ``~`` encoded."""
    return quote_plus(value, safe="*").replace("~", "%7E")


def form_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The query bbb-web rebuilds for a form POST without a query string (spec §1.2).

    Keys sorted, the checksum left out, the first value of each key, each value encoded the
    way Java's URLEncoder does.
    """
    first: dict[str, str] = {}
    for key, value in pairs:
        if key != "checksum":
            first.setdefault(key, value)
    return "&".join(f"{key}={java_url_encode(first[key])}" for key in sorted(first))


def verify_form(
    call: str,
    pairs: Iterable[tuple[str, str]],
    secret: str | Sequence[str],
    allowed: Collection[str] = tuple(ALGORITHMS),
) -> bool:
    """Checksum of a form POST without a query string: over the rebuilt query (spec §1.2)."""
    pairs = list(pairs)
    supplied = next((value for key, value in pairs if key == "checksum"), "")
    algorithm = algorithm_for(supplied)
    if not supplied or algorithm is None or algorithm not in allowed:
        return False
    query = form_query(pairs)
    return _matches_any(
        supplied.lower(), (compute(call, query, s, algorithm) for s in _secrets(secret))
    )

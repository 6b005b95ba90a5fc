"""Reading a JSON request body that may have been written by an attacker.

The body is read with a size limit, must be UTF-8 JSON (RFC 8259), and is refused with a 400
before any handler sees it when it nests too deep, holds numbers that do not fit a float or a
64-bit integer, or strings that PostgreSQL or XML cannot carry (NUL, lone surrogates, control
characters). Handlers then only check shapes (``schema.py``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from b3scale.bbb.text import is_clean
from b3scale.web.api.errors import ApiError

#: The largest body the REST API reads (a frontend with generous settings is a few KiB).
MAX_BODY_BYTES = 64 * 1024
#: How deep objects and arrays may nest (settings are three levels deep).
MAX_DEPTH = 16
#: Integers beyond this are not what any field means (and PostgreSQL's bigint ends here).
MAX_INTEGER = 2**63 - 1
#: The longest object key.
MAX_KEY_LENGTH = 256


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_json", message)


def too_large(limit: int = MAX_BODY_BYTES) -> ApiError:
    # Not closed at once: aiohttp reads and drops the rest of the body for a while (a
    # lingering close), so the client, still writing, gets this answer rather than a reset.
    return ApiError(413, "request_too_large", f"the body exceeds {limit} bytes")


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        # read(n) answers with what has arrived (up to n): a large body comes in several.
        while chunk := await request.content.read(limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
    except (HttpProcessingError, web.RequestPayloadError):
        # A body the server cannot decode (for example Content-Encoding: gzip with garbage).
        raise ApiError(
            400, "invalid_json", "the body cannot be decoded (Content-Encoding)", close=True
        ) from None
    return b"".join(chunks)


def _integer(text: str) -> int:
    # Checked on the digits, before Python converts them: a 100,000-digit number is refused
    # without the work (and Python's own limit raises ValueError at 4,300 digits).
    if len(text.lstrip("-")) > 19 or abs(value := int(text)) > MAX_INTEGER:
        raise ValueError("an integer out of range")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number out of range")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("the body must be UTF-8") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise invalid(f"the body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise invalid(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise invalid(f"the body is not valid JSON: {exc}") from None
    check_values(value)
    return value


def check_values(value: Any) -> None:
    """Depth, and strings (values and keys) PostgreSQL and XML can carry; without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not is_clean(item):
                raise invalid("a string holds a NUL, control character or lone surrogate")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise invalid(f"the body nests deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if len(key) > MAX_KEY_LENGTH or not is_clean(key):
                        raise invalid("an object key is too long or holds characters not allowed")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


async def json_object(request: web.Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's body, a JSON object that passed :func:`parse_json`."""
    value = parse_json(await read_body(request, limit))
    if not isinstance(value, dict):
        raise invalid("the body must be a JSON object")
    return value

"""A small JSON Schema (OpenAPI 3.0 dialect) validator for request bodies.

The input shapes of the REST API are declared once, as schemas (``inputs.py``); the OpenAPI
document publishes them and this module enforces them, so the two cannot drift apart.
Supported keywords: type, nullable, enum, properties, required, additionalProperties, items,
minItems, maxItems, maxProperties, minLength, maxLength, pattern, minimum, maximum,
exclusiveMinimum (3.0's boolean form).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Schema = dict[str, Any]
Errors = dict[str, list[str]]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}
_ARTICLES = {"object": "an object", "array": "an array", "integer": "an integer"}


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False  # JSON's true is not the number 1
    return isinstance(value, _TYPES[kind])


def validate(value: Any, schema: Schema, path: str = "") -> Errors:
    """Every problem with ``value``, by field path (``bbb.key``, ``settings.tags[0]``)."""
    errors: Errors = {}
    _check(value, schema, path, errors)
    return errors


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path or "body", []).append(message)


def _check(value: Any, schema: Schema, path: str, errors: Errors) -> None:
    if value is None:
        if not schema.get("nullable", False):
            _add(errors, path, "must not be null")
        return
    kind = schema.get("type")
    if kind is not None and not _is(value, kind):
        _add(errors, path, f"must be {_ARTICLES.get(kind, 'a ' + kind)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        _add(errors, path, "must be one of " + ", ".join(map(str, schema["enum"])))
        return
    if isinstance(value, str):
        _check_string(value, schema, path, errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path, errors)
    elif isinstance(value, list):
        _check_array(value, schema, path, errors)
    elif isinstance(value, dict):
        _check_object(value, schema, path, errors)


def _check_string(value: str, schema: Schema, path: str, errors: Errors) -> None:
    if len(value) < schema.get("minLength", 0):
        _add(errors, path, "this field is required" if not value else "is too short")
    elif "maxLength" in schema and len(value) > schema["maxLength"]:
        _add(errors, path, f"must be at most {schema['maxLength']} characters")
    elif "pattern" in schema and not _regex(schema["pattern"]).search(value):
        _add(errors, path, schema.get("x-pattern-message", "has characters that are not allowed"))


def _check_number(value: float, schema: Schema, path: str, errors: Errors) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and (value <= low if schema.get("exclusiveMinimum") else value < low):
        _add(
            errors,
            path,
            f"must be greater than {low}"
            if schema.get("exclusiveMinimum")
            else f"must be at least {low}",
        )
    elif high is not None and value > high:
        _add(errors, path, f"must be at most {high}")


def _check_array(value: list[Any], schema: Schema, path: str, errors: Errors) -> None:
    if len(value) < schema.get("minItems", 0):
        _add(errors, path, f"must have at least {schema['minItems']} items")
    elif "maxItems" in schema and len(value) > schema["maxItems"]:
        _add(errors, path, f"must have at most {schema['maxItems']} items")
    elif "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]", errors)


def _check_object(value: dict[str, Any], schema: Schema, path: str, errors: Errors) -> None:
    prefix = f"{path}." if path else ""
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        _add(errors, path, f"must have at most {schema['maxProperties']} keys")
        return
    properties: dict[str, Schema] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            _add(errors, prefix + name, "this field is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], prefix + name, errors)
        elif extra is False:
            _add(errors, prefix + name, "is not a known field")
        elif isinstance(extra, dict):
            _check(item, extra, prefix + name, errors)

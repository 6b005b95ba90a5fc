"""PATCH semantics of b3scale (spec/b3scale.md §5.3), on plain JSON values.

Keys the patch leaves out keep their values at every depth; an explicit ``null`` removes the
key; objects merge recursively; arrays and scalars are replaced. Unknown keys are kept.
"""

from __future__ import annotations

from typing import Any


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        elif isinstance(value, dict):
            merged[key] = merge_patch({}, value)
        else:
            merged[key] = value
    return merged

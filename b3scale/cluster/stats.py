"""Counters the gateway keeps while it works (per instance); /metrics exports them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ClusterStats:
    #: ("placed" | "no_backend") -> count
    placements: Counter[str] = field(default_factory=Counter)
    #: ("delivered" | "retried" | "given_up") -> count of callback delivery attempts
    callbacks: Counter[str] = field(default_factory=Counter)
    #: (frontend key, messageKey of the limit) -> calls a tenant policy refused
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)

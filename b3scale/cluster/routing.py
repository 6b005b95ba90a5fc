"""The routing pipeline: pure steps that narrow and order the candidate backends.

Steps only filter or sort (none short-circuits); the router takes the first backend left.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from b3scale.store.backends import Backend
from b3scale.store.frontends import Frontend

#: b3scale's attendee base load: a meeting weighs at least as much as 15 attendees.
MEETING_WEIGHT = 15
#: A breakout room adds little load of its own; its users are counted as attendees.
BREAKOUT_WEIGHT = 0.25

RouteStep = Callable[[list[Backend], Frontend], list[Backend]]


def load(backend: Backend) -> float:
    """load_factor x max(15 x meetings, attendees) (b3scale's formula), breakouts weighed less."""
    meetings = backend.meetings_count + BREAKOUT_WEIGHT * backend.breakouts_count
    return backend.load_factor * max(MEETING_WEIGHT * meetings, backend.attendees_count)


def required_tags(backends: list[Backend], frontend: Frontend) -> list[Backend]:
    """Backends carrying every tag the frontend requires (an empty tag always matches)."""
    required = {t for t in frontend.required_tags if t}
    if not required:
        return backends  # pass
    return [b for b in backends if required <= set(b.tags)]


def sort_by_load(backends: list[Backend], frontend: Frontend) -> list[Backend]:
    """Least loaded first; equal loads in random order, so a burst spreads out."""
    shuffled = random.sample(backends, len(backends))
    return sorted(shuffled, key=load)


#: In execution order.
ROUTING_STEPS: Sequence[RouteStep] = (required_tags, sort_by_load)


def route(backends: list[Backend], frontend: Frontend) -> list[Backend]:
    for step in ROUTING_STEPS:
        backends = step(backends, frontend)
    return backends

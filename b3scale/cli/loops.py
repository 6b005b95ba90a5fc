"""Which event loop ``serve`` runs on (B3SCALE_EVENT_LOOP)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopUnavailable(RuntimeError):
    """B3SCALE_EVENT_LOOP=uvloop where uvloop is not installed."""


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for "uvloop", and for "auto" where it is installed; None = asyncio's."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            message = "B3SCALE_EVENT_LOOP=uvloop, but uvloop is not installed"
            raise LoopUnavailable(message) from None
        return None
    return uvloop.new_event_loop


def new_loop(choice: str) -> asyncio.AbstractEventLoop:
    factory = loop_factory(choice)
    return factory() if factory else asyncio.new_event_loop()


def loop_name(choice: str) -> str:
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)

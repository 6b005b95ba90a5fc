"""B3SCALE_EVENT_LOOP: serve runs on uvloop where it is installed, on asyncio's loop if asked."""

import asyncio

import pytest

from b3scale.cli import loops


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_and_uvloop_run_on_uvloop() -> None:
    pytest.importorskip("uvloop")
    assert loops.run(loop_module(), "auto").startswith("uvloop")
    assert loops.run(loop_module(), "uvloop").startswith("uvloop")
    assert loops.loop_name("auto") == "uvloop"


def test_asyncio_runs_on_pythons_own_loop() -> None:
    assert loops.run(loop_module(), "asyncio").startswith("asyncio")
    assert loops.loop_name("asyncio") == "asyncio"

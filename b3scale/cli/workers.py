"""``serve --workers N``: N processes serving one port (SO_REUSEPORT), watched by the first.

The supervisor forks the workers after the configuration is read and the embedded database is
up, restarts a worker that dies, and on SIGTERM or SIGINT stops them all and waits for them.
Workers share nothing but the database: caches follow the same NOTIFY channels, background
jobs (polls, callback deliveries, commands) are leased in the database, so each is done once.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("b3scale")

#: Exit code of a worker that cannot start (configuration): restarting it would not help.
EXIT_CONFIG = 2
#: prctl(2): the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: Pause before a dead worker is replaced (a worker that dies at once must not spin).
RESTART_DELAY = 1.0


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this worker when the supervisor dies, even by SIGKILL:
    orphaned workers would keep the port and the database connections."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _run_child(index: int, run_one: Callable[[int], int], parent: int) -> None:
    """The worker's side of the fork: never returns into the supervisor's code."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os._exit(1)
    code = 1
    try:
        code = run_one(index)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker failed", extra={"worker": index})
    finally:
        logging.shutdown()
        os._exit(code)


def run_workers(count: int, run_one: Callable[[int], int]) -> int:
    """Run ``run_one(index)`` in ``count`` forked workers until a signal; the exit code."""
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False

    def start(index: int) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _run_child(index, run_one, parent)
        children[pid] = index

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(count):
            start(index)
        log.info("workers started", extra={"workers": count, "pids": sorted(children)})
        result = 0
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = children.pop(pid, -1)
            code = os.waitstatus_to_exitcode(status)
            if stopping or index < 0:
                continue
            if code == EXIT_CONFIG:
                log.error("a worker cannot start; stopping", extra={"worker": index})
                result = EXIT_CONFIG
                stop(signal.SIGTERM, None)
                continue
            log.warning("worker exited; starting another", extra={"worker": index, "code": code})
            time.sleep(RESTART_DELAY)
            if not stopping:
                start(index)
        return result
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

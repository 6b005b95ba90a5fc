"""Run the real ``b3scale`` command as a user would: ``python -m b3scale`` in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any B3SCALE_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B3SCALE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def env_without_checkout(**extra: str) -> dict[str, str]:
    """:func:`clean_env` without the checkout on the module path (for the one-file build,
    which must bring everything it needs)."""
    env = clean_env(**extra)
    del env["PYTHONPATH"]
    return env


def run_b3scale(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run to completion from an empty folder (so no .env is picked up)."""
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run(
            [sys.executable, "-m", "b3scale", *args],
            env=clean_env(**env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class Serve:
    """``b3scale serve`` in the background on a free port; stopped with SIGTERM."""

    #: The b3scale command: the checkout's package (a subclass runs the one-file build).
    command: tuple[str, ...] = (sys.executable, "-m", "b3scale")

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return clean_env(**env)

    def __init__(self, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        env.setdefault("B3SCALE_LOG_FORMAT", "plain")
        env["B3SCALE_LISTEN_HTTP"] = f"127.0.0.1:{self.port}"
        self._cwd = tempfile.TemporaryDirectory()
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [*self.command, "serve"],
            env=self.environment(env),
            cwd=self._cwd.name,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 20) -> float:
        """Seconds until /healthz said 200; fails with the process output otherwise."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.output}")
            if http_status(f"{self.url}/healthz") == 200:
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(f"serve not healthy after {timeout} s:\n{self.output}")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    @property
    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def __enter__(self) -> Serve:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self._cwd.cleanup()

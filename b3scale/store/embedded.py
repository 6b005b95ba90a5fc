"""A private PostgreSQL cluster run from the server binaries installed on the machine.

``serve`` uses it when B3SCALE_DB_URL is not set, and the tests use it for their throwaway
database. initdb refuses to run as root, so as root the cluster runs as the ``postgres`` system
user (with that user's own group: keeping root's groups makes initdb fail under 0711 folders).
By default the server listens only on a Unix socket inside the data dir, so nothing else on the
machine can reach it.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

log = logging.getLogger(__name__)

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
#: sockaddr_un.sun_path is 108 bytes on Linux, including the NUL.
_MAX_SOCKET_PATH = 107


class EmbeddedPostgresError(RuntimeError):
    """The embedded cluster cannot be set up or started."""


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    bindir: Path
    major: int

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def _major_version(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = _VERSION.search(out)
    return int(match[1]) if match else None


def _candidate_bindirs() -> list[Path]:
    """Directories holding initdb and pg_ctl: PATH first, then Debian's versioned folders."""
    dirs: list[Path] = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        initdb = shutil.which("initdb", path=entry) if entry else None
        if initdb and shutil.which("pg_ctl", path=entry):
            dirs.append(Path(os.path.realpath(initdb)).parent)
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda d: int(re.sub(r"\D", "", Path(d).parent.name) or 0), reverse=True)
    dirs.extend(Path(d) for d in versioned)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique and (d / "initdb").exists() and (d / "pg_ctl").exists():
            unique.append(d)
    return unique


def find_binaries(major: int | None = None, bindir: Path | None = None) -> PostgresBinaries:
    """The server binaries to use; ``major`` pins the version an existing cluster was made with.

    ``bindir`` (B3SCALE_PG_BINDIR) names the one folder to use instead of searching.
    """
    seen: list[str] = []
    for candidate in [bindir] if bindir else _candidate_bindirs():
        found = _major_version(candidate)
        if found is None:
            continue
        seen.append(f"{found} in {candidate}")
        if major is None or found == major:
            return PostgresBinaries(candidate, found)
    if major is not None and seen:
        raise EmbeddedPostgresError(
            f"the embedded cluster was made with PostgreSQL {major}, but only "
            f"{', '.join(seen)} is installed; install PostgreSQL {major} or set B3SCALE_DB_URL"
        )
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries (initdb, pg_ctl) found "
        + (f"in {bindir}" if bindir else "on PATH or in /usr/lib/postgresql/*/bin")
        + "; install PostgreSQL (Debian: apt-get install postgresql) "
        "or set B3SCALE_DB_URL"
    )


class LocalCluster:
    """initdb (once), start, stop of a cluster under ``root``.

    ``tcp_port`` additionally listens on 127.0.0.1; ``durable=False`` turns fsync off (tests).
    A cluster that is already running (another b3scale process uses it) is reused, and only
    the process that started it stops it.
    """

    def __init__(
        self,
        root: Path,
        *,
        tcp_port: int | None = None,
        durable: bool = True,
        database: str = "b3scale",
        bindir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        #: Extra server settings (``-c name=value``), for benchmarks and tests.
        self.settings = dict(settings or {})
        self.bindir = bindir
        self.data = root / "pgdata"
        self.logfile = root / "postgresql.log"
        self.tcp_port = tcp_port
        self.durable = durable
        self.database = database
        self.port = tcp_port or 5432
        self.socket_dir = self._socket_dir()
        self.started_here = False
        self._lock: IO[str] | None = None
        self._user = self._run_as()

    # -- running things as the cluster's owner ---------------------------------------------

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise EmbeddedPostgresError(
                "running as root, the embedded PostgreSQL needs the 'postgres' system user "
                "(installed with the postgresql package); or set B3SCALE_DB_URL"
            ) from None

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        owner: dict[str, Any] = {}
        if self._user is not None:
            owner = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        return subprocess.run(
            args, cwd=self.root, text=True, capture_output=True, check=False, **owner, **kwargs
        )

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _socket_dir(self) -> Path:
        preferred = self.root / "run"
        if len(str(preferred / f".s.PGSQL.{self.port}")) <= _MAX_SOCKET_PATH:
            return preferred
        return Path(tempfile.mkdtemp(prefix="b3scale-pg-"))

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def admin_dsn(self) -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname=postgres"

    @property
    def dsn(self) -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={self.database}"

    def start(self) -> str:
        """Make sure the cluster runs; returns the DSN of the admin database ``postgres``."""
        major = self._initialized_major()
        binaries = find_binaries(major, self.bindir)
        self._prepare_dirs()
        self._lock = open(self.root / ".lock", "w")  # noqa: SIM115 - held until stop()
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # serialise initdb/start between processes
        try:
            major = self._initialized_major()  # another process may have run initdb meanwhile
            if major is None:
                self._initdb(binaries)
            if not self.running(binaries):
                self._start(binaries)
                self.started_here = True
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
        return self.admin_dsn

    def stop(self) -> None:
        """Stop the server if this object started it; waits until it is gone."""
        try:
            if self.started_here:
                self._stop()
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _stop(self) -> None:
        binaries = find_binaries(self._initialized_major(), self.bindir)
        result = self._run(
            [binaries.tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"]
        )
        if result.returncode != 0 and self.running(binaries):
            raise EmbeddedPostgresError(f"pg_ctl stop failed: {_last_line(result.stderr)}")
        self.started_here = False
        log.info("embedded PostgreSQL stopped", extra={"data_dir": str(self.data)})

    def running(self, binaries: PostgresBinaries | None = None) -> bool:
        binaries = binaries or find_binaries(self._initialized_major(), self.bindir)
        status = self._run([binaries.tool("pg_ctl"), "-D", str(self.data), "status"])
        return status.returncode == 0

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- steps ------------------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for folder in (self.data, self.socket_dir):
                folder.mkdir(mode=0o700, exist_ok=True)
                self._chown(folder)
        except OSError as exc:
            raise EmbeddedPostgresError(
                f"cannot prepare the data dir {self.root}: {exc.strerror}; "
                "set B3SCALE_DATA_DIR to a writable folder or set B3SCALE_DB_URL"
            ) from None
        if self._user is not None:
            probe = self._run(["test", "-w", str(self.data)])
            if probe.returncode != 0:
                raise EmbeddedPostgresError(
                    f"the postgres user cannot reach {self.data}: every folder above it must "
                    "be traversable (o+x) by that user; set B3SCALE_DATA_DIR elsewhere "
                    "(e.g. /var/lib/b3scale) or set B3SCALE_DB_URL"
                )

    def _initialized_major(self) -> int | None:
        try:
            return int((self.data / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def _initdb(self, binaries: PostgresBinaries) -> None:
        log.info(
            "creating the embedded PostgreSQL cluster",
            extra={"data_dir": str(self.data), "postgresql": binaries.major},
        )
        args = [
            binaries.tool("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        result = self._run(args)
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed: {_last_line(result.stderr)}")

    def _start(self, binaries: PostgresBinaries) -> None:
        listen = "127.0.0.1" if self.tcp_port else "''"
        options = f"-k {self.socket_dir} -p {self.port} -c listen_addresses={listen}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for name, value in self.settings.items():
            options += f" -c {name}={value}"
        if self.logfile.exists():
            self._chown(self.logfile)
        elif self._user is not None:
            self.logfile.touch()
            self._chown(self.logfile)
        started = time.monotonic()
        # A session of its own: a Ctrl-C on the terminal reaches b3scale, which stops the
        # cluster in order, instead of reaching the postmaster directly.
        result = self._run(
            [
                binaries.tool("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "-s",
                "-o",
                options,
                "start",
            ],
            start_new_session=True,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start: {_last_line(result.stderr)}; see {self.logfile}"
            )
        log.info(
            "embedded PostgreSQL started",
            extra={
                "data_dir": str(self.data),
                "postgresql": binaries.major,
                "seconds": round(time.monotonic() - started, 2),
            },
        )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"

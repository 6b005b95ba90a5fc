"""The one place that reads the environment.

Every process builds one frozen :class:`Config` from environment variables (and b3scale's env-file
fallback) at start; nothing else looks at ``os.environ``. A bad value raises :class:`ConfigError`,
whose text names the variable, the value and what is accepted.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

#: Read when B3SCALE_DB_URL is not in the environment, first file first; a real environment
#: variable always wins over a file (b3scale does the same, HEAD added /etc/default).
ENV_FILES: tuple[str, ...] = (".env", "/etc/sysconfig/b3scale", "/etc/default/b3scale")

#: b3scale's (zerolog's) numeric levels, by name.
LOG_LEVELS: dict[str, int] = {
    "trace": -1,
    "debug": 0,
    "info": 1,
    "warn": 2,
    "warning": 2,
    "error": 3,
    "fatal": 4,
    "panic": 5,
}

LOG_FORMATS = ("structured", "plain")
TRUE_WORDS = ("yes", "true", "1")
FALSE_WORDS = ("no", "false", "0", "")

#: Where bbb-web keeps its properties; the second overrides the first on BBB >= 2.3.
BBB_CONFIG_DEFAULT = "/usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties"


class ConfigError(ValueError):
    """An environment variable has a value we cannot use."""

    def __init__(self, variable: str, value: str, accepted: str) -> None:
        self.variable = variable
        self.value = value
        self.accepted = accepted
        super().__init__(f"{variable}={value!r} is not valid: expected {accepted}")


#: Connections per instance. A request holds one for a query or a short transaction (about a
#: millisecond), so ten serve thousands of requests per second, and two instances, their
#: LISTEN connections and the node agents fit a stock PostgreSQL (max_connections = 100).
DEFAULT_POOL_SIZE = 10


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of every b3scale process; built once by :func:`load_config`."""

    #: B3SCALE_LISTEN_HTTP: host part of the HTTP listen address ("" = every interface).
    listen_host: str = "127.0.0.1"
    #: B3SCALE_LISTEN_HTTP: port part of the HTTP listen address.
    listen_port: int = 42353
    #: B3SCALE_DB_URL: libpq DSN or URL; None means "start the embedded PostgreSQL".
    db_url: str | None = None
    #: B3SCALE_DB_POOL_SIZE: the most database connections one process opens.
    db_pool_size: int = DEFAULT_POOL_SIZE
    #: B3SCALE_REVERSE_PROXY_MODE: joins are answered for a reverse proxy (deprecated by b3scale).
    reverse_proxy_mode: bool = False
    #: B3SCALE_LOG_LEVEL: b3scale's numeric level, -1 (trace) .. 5 (panic).
    log_level: int = 1
    #: B3SCALE_LOG_FORMAT: "structured" (JSON lines on stderr) or "plain".
    log_format: str = "structured"
    #: B3SCALE_API_JWT_SECRET: HMAC key of the REST API; None switches the API off.
    api_jwt_secret: str | None = None
    #: B3SCALE_LOAD_FACTOR: the node agent's weight for its backend (higher = fewer meetings).
    load_factor: float = 1.0
    #: BBB_CONFIG: bbb-web's properties file, read by the node agent; None = the BBB defaults.
    bbb_config: str | None = None
    #: B3SCALE_DATA_DIR: where the embedded PostgreSQL keeps its cluster.
    data_dir: Path = Path("/var/lib/b3scale")
    #: B3SCALE_PG_BINDIR: folder of initdb/pg_ctl for the embedded PostgreSQL; None = search.
    pg_bindir: Path | None = None
    #: B3SCALE_API_URL: where ``b3scale ctl`` finds the REST API.
    api_url: str = "http://127.0.0.1:42353"
    #: B3SCALE_API_ACCESS_TOKEN: a JWT ``b3scale ctl`` sends as it is.
    api_access_token: str | None = None
    #: Where ``b3scale ctl`` keeps its token: $XDG_CONFIG_HOME/b3scale or ~/.config/b3scale.
    config_dir: Path = Path("~/.config/b3scale")
    #: B3SCALE_POLL_INTERVAL: seconds between two polls of a backend's getMeetings.
    poll_interval: float = 10.0
    #: B3SCALE_AGENT_POLL_INTERVAL: the same for a backend whose node agent reports.
    agent_poll_interval: float = 60.0
    #: B3SCALE_PUBLIC_URL: how BBB nodes reach this cluster (callbacks); None = no relaying.
    public_url: str | None = None
    #: B3SCALE_UNIQUE_VOICE_BRIDGES: every frontend's meetings get cluster-unique voice bridges
    #: (a frontend's ``unique_voice_bridge`` setting overrides it).
    unique_voice_bridges: bool = False
    #: B3SCALE_TENANT_DOMAIN: ``<key>.<domain>`` names the frontend ``<key>`` (host-named tenants).
    tenant_domain: str | None = None
    #: B3SCALE_RECORDINGS_DIR: where imported recordings' files are kept; None = no import.
    recordings_dir: Path | None = None
    #: B3SCALE_RECORDINGS_PLAYBACK_URL: the host that serves them (default: B3SCALE_PUBLIC_URL).
    recordings_playback_url: str | None = None
    #: B3SCALE_WORKERS: processes ``serve`` runs on its port (a number, or auto = the CPUs).
    workers: int = 1
    #: B3SCALE_EVENT_LOOP: "uvloop" (libuv's loop, faster per request) or "asyncio"
    #: (Python's own); the default "auto" takes uvloop where it is installed.
    event_loop: str = "auto"
    #: Set by ``serve --workers`` in each worker: its number, and where workers share counts.
    worker_index: int | None = None
    metrics_dir: str | None = None
    #: Run the background controller (polls); tests of single requests switch it off.
    run_controller: bool = True
    #: The env files that were read, for the start-up log.
    env_files_used: tuple[str, ...] = ()

    @property
    def listen_address(self) -> str:
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{host}:{self.listen_port}"


T = TypeVar("T")


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments; key and value trimmed of spaces and quotes."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        values[key] = value.strip().strip("\"'")
    return values


def merged_environment(
    environ: Mapping[str, str], env_files: Sequence[str] = ENV_FILES
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment plus the env files' values for variables it does not set."""
    merged = dict(environ)
    used: list[str] = []
    if "B3SCALE_DB_URL" in environ:
        return merged, ()
    for name in env_files:
        path = Path(name)
        try:
            values = read_env_file(path)
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("env file", name, f"a readable KEY=VALUE file ({exc})") from exc
        used.append(name)
        for key, value in values.items():
            merged.setdefault(key, value)
    return merged, tuple(used)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def parse_log_level(value: str) -> int:
    text = value.strip().lower()
    if text in LOG_LEVELS:
        return LOG_LEVELS[text]
    level = int(text)
    if not -1 <= level <= 5:
        raise ValueError(value)
    return level


def parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(value)


def parse_pool_size(value: str) -> int:
    size = int(value.strip())
    if not 1 <= size <= 1000:
        raise ValueError(value)
    return size


def parse_load_factor(value: str) -> float:
    factor = float(value.strip())
    if not 0 < factor < float("inf"):
        raise ValueError(value)
    return factor


def parse_http_url(value: str) -> str:
    url = value.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ValueError(value)
    return url


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}$")


def parse_domain(value: str) -> str:
    domain = value.strip().strip(".").lower()
    if not _DOMAIN.match(domain):
        raise ValueError(value)
    return domain


def parse_workers(value: str) -> int:
    text = value.strip().lower()
    count = (os.cpu_count() or 1) if text == "auto" else int(text)
    if not 1 <= count <= 64:
        raise ValueError(value)
    return count


EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def parse_event_loop(value: str) -> str:
    text = value.strip().lower()
    if text not in EVENT_LOOPS:
        raise ValueError(value)
    return text


def parse_poll_interval(value: str) -> float:
    seconds = float(value.strip())
    if not 1 <= seconds <= 300:
        raise ValueError(value)
    return seconds


def parse_log_format(value: str) -> str:
    text = value.strip().lower()
    if text not in LOG_FORMATS:
        raise ValueError(value)
    return text


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Per-user data dir; as root /var/lib/b3scale, which the postgres user can reach."""
    if os.geteuid() == 0:
        return Path("/var/lib/b3scale")
    xdg = environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME", str(Path.home()))) / ".local" / "share"
    return base / "b3scale"


def user_config_dir(environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME", str(Path.home()))) / ".config"
    return base / "b3scale"


def load_config(
    environ: Mapping[str, str] | None = None, env_files: Sequence[str] = ENV_FILES
) -> Config:
    """Build the configuration; raises :class:`ConfigError` naming the first bad variable."""
    env, used = merged_environment(os.environ if environ is None else environ, env_files)

    def get(name: str, parse: Callable[[str], T], default: T, accepted: str) -> T:
        raw = env.get(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            raise ConfigError(name, raw, accepted) from None

    host, port = get(
        "B3SCALE_LISTEN_HTTP", parse_listen, ("127.0.0.1", 42353), "HOST:PORT, e.g. 127.0.0.1:42353"
    )
    data_dir_raw = env.get("B3SCALE_DATA_DIR", "").strip()
    return Config(
        listen_host=host,
        listen_port=port,
        db_url=env.get("B3SCALE_DB_URL", "").strip() or None,
        db_pool_size=get(
            "B3SCALE_DB_POOL_SIZE",
            parse_pool_size,
            DEFAULT_POOL_SIZE,
            "a whole number from 1 to 1000",
        ),
        reverse_proxy_mode=get(
            "B3SCALE_REVERSE_PROXY_MODE", parse_bool, False, "yes/true/1 or no/false/0"
        ),
        log_level=get(
            "B3SCALE_LOG_LEVEL",
            parse_log_level,
            1,
            "trace, debug, info, warn, error, fatal, panic or a number from -1 to 5",
        ),
        log_format=get("B3SCALE_LOG_FORMAT", parse_log_format, "structured", "structured or plain"),
        api_jwt_secret=env.get("B3SCALE_API_JWT_SECRET") or None,
        load_factor=get(
            "B3SCALE_LOAD_FACTOR", parse_load_factor, 1.0, "a number greater than 0, e.g. 1.5"
        ),
        bbb_config=env.get("BBB_CONFIG") or None,
        data_dir=Path(data_dir_raw) if data_dir_raw else default_data_dir(env),
        api_url=get(
            "B3SCALE_API_URL",
            parse_http_url,
            "http://127.0.0.1:42353",
            "an http:// or https:// URL, e.g. http://127.0.0.1:42353",
        ),
        api_access_token=env.get("B3SCALE_API_ACCESS_TOKEN") or None,
        config_dir=user_config_dir(env),
        poll_interval=get(
            "B3SCALE_POLL_INTERVAL", parse_poll_interval, 10.0, "seconds between 1 and 300"
        ),
        agent_poll_interval=get(
            "B3SCALE_AGENT_POLL_INTERVAL", parse_poll_interval, 60.0, "seconds between 1 and 300"
        ),
        pg_bindir=Path(env["B3SCALE_PG_BINDIR"]) if env.get("B3SCALE_PG_BINDIR") else None,
        workers=get(
            "B3SCALE_WORKERS", parse_workers, 1, "a number from 1 to 64, or auto (one per CPU)"
        ),
        event_loop=get("B3SCALE_EVENT_LOOP", parse_event_loop, "auto", "auto, uvloop or asyncio"),
        public_url=get(
            "B3SCALE_PUBLIC_URL",
            parse_http_url,
            None,
            "the http:// or https:// URL nodes reach b3scale at, e.g. https://bbb.example.org",
        ),
        unique_voice_bridges=get(
            "B3SCALE_UNIQUE_VOICE_BRIDGES", parse_bool, False, "yes/true/1 or no/false/0"
        ),
        tenant_domain=get(
            "B3SCALE_TENANT_DOMAIN", parse_domain, None, "a DNS name, e.g. bbb.example.net"
        ),
        recordings_dir=Path(env["B3SCALE_RECORDINGS_DIR"])
        if env.get("B3SCALE_RECORDINGS_DIR", "").strip()
        else None,
        recordings_playback_url=get(
            "B3SCALE_RECORDINGS_PLAYBACK_URL",
            parse_http_url,
            None,
            "the http:// or https:// URL of the host serving recordings, e.g. https://rec.example.org",
        ),
        env_files_used=used,
    )

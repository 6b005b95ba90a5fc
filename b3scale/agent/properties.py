"""bbb-web's properties files, read the way the node agent needs them.

``key=value`` lines (also ``key: value`` and ``key value`` as Java allows), ``#`` and ``!``
comments, backslash line continuations, and ``${other.key}`` references (any number per value,
resolved recursively; a cycle or a missing key leaves the reference as it is). A later file
overrides an earlier one: bbb-web reads /etc/bigbluebutton/bbb-web.properties over its packaged
defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REFERENCE = re.compile(r"\$\{([^}]+)\}")

#: bbb-web's packaged defaults, and the file operators edit (BBB >= 2.3), which wins.
PACKAGED = "/usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties"
OVERRIDE = "/etc/bigbluebutton/bbb-web.properties"


class PropertiesError(Exception):
    """A file cannot be read or a required key is missing: one line for the operator."""


def parse_properties(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        while line.endswith("\\") and not line.endswith("\\\\"):
            line = line[:-1] + next(lines, "").strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match:
            values[match[1]] = match[2].strip()
        else:
            values[line] = ""
    return values


def resolve(values: Mapping[str, str], key: str, seen: frozenset[str] = frozenset()) -> str:
    """The value of ``key`` with its ``${...}`` references replaced."""

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name in seen or name not in values:
            return match[0]
        return resolve(values, name, seen | {key})

    return REFERENCE.sub(replace, values[key])


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """What the agent needs to know about its BBB node."""

    server_url: str
    secret: str
    redis_host: str
    redis_port: int
    redis_password: str
    files: tuple[str, ...]

    @property
    def redis_url(self) -> str:
        auth = f":{self.redis_password}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/0"


def default_files(bbb_config: str | None) -> list[str]:
    """BBB_CONFIG if set; else the packaged file and the override that exist."""
    if bbb_config:
        return [bbb_config]
    return [p for p in (PACKAGED, OVERRIDE) if Path(p).exists()] or [PACKAGED]


def read_node_settings(files: Sequence[str]) -> NodeSettings:
    merged: dict[str, str] = {}
    for name in files:
        try:
            merged.update(parse_properties(Path(name).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise PropertiesError(f"BBB config file not found: {name} (set BBB_CONFIG)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PropertiesError(f"cannot read the BBB config file {name}: {exc}") from None
    where = " + ".join(files)

    def required(key: str) -> str:
        if key not in merged or not resolve(merged, key).strip():
            raise PropertiesError(f"{key} is missing in {where}")
        return resolve(merged, key).strip()

    def optional(key: str, default: str) -> str:
        return resolve(merged, key).strip() if merged.get(key, "").strip() else default

    port = optional("redisPort", "6379")
    if not port.isdigit():
        raise PropertiesError(f"redisPort is not a number in {where}: {port!r}")
    return NodeSettings(
        server_url=required("bigbluebutton.web.serverURL"),
        secret=required("securitySalt"),
        redis_host=optional("redisHost", "127.0.0.1"),
        redis_port=int(port),
        redis_password=optional("redisPassword", ""),
        files=tuple(files),
    )

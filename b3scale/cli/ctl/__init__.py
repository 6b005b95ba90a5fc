"""``b3scale ctl``: b3scalectl's commands over the REST API.

Exit codes as b3scalectl: 0 done, 64 nothing to change, 1 an error (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

import click

from b3scale.cli.ctl.auth import obtain_token
from b3scale.cli.ctl.client import ApiClient, CtlError
from b3scale.cluster.hosts import normalize_host
from b3scale.config import ConfigError, load_config

EXIT_NO_CHANGE = 64

F = TypeVar("F", bound=Callable[..., Any])


class AliasedGroup(click.Group):
    """A group whose commands also answer to b3scalectl's short names."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = aliases or {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return (command.name if command else name), command, rest


@dataclass
class Session:
    api_url: str
    as_json: bool
    _client: ApiClient | None = None

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = ApiClient(self.api_url, obtain_token(load_config(), self.api_url))
        return self._client

    def get(self, path: str, **query: str) -> Any:
        return self.client.request("GET", path, query=query or None)

    def send(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        return self.client.request(method, path, body, query=query or None)


def errors_as_one_line(function: F) -> F:
    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (CtlError, ConfigError) as exc:
            click.echo(f"b3scale ctl: {exc}", err=True)
            sys.exit(1)

    return cast(F, wrapper)


def host_argument(value: str) -> str:
    try:
        return normalize_host(value)
    except ValueError as exc:
        raise CtlError(str(exc)) from None


def settings_option(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        settings = json.loads(value)
    except json.JSONDecodeError as exc:
        raise CtlError(f"-j is not valid JSON: {exc.msg}") from None
    if not isinstance(settings, dict):
        raise CtlError('-j must be a JSON object, e.g. \'{"tags": ["a"]}\'')
    return settings


def emit(session: Session, data: Any, table: Callable[[], None]) -> None:
    if session.as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        table()


pass_session = click.make_pass_decorator(Session)


@click.group(
    cls=AliasedGroup,
    invoke_without_command=True,
    aliases={
        "s": "show",
        "update": "set",
        "u": "set",
        "add": "set",
        "a": "set",
        "d": "delete",
        "del": "delete",
        "rm": "delete",
        "en": "enable",
        "start": "enable",
        "dis": "disable",
        "stop": "disable",
    },
)
@click.option(
    "--api",
    "-b",
    "api_url",
    default=None,
    metavar="URL",
    help="The b3scale server (B3SCALE_API_URL; default http://127.0.0.1:42353).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
@errors_as_one_line
def ctl(ctx: click.Context, api_url: str | None, as_json: bool) -> None:
    """Manage frontends, backends and meetings through the REST API.

    Without a command: shows which server and API version answer.
    """
    config = load_config()
    ctx.obj = Session((api_url or config.api_url).rstrip("/"), as_json)
    if ctx.invoked_subcommand is None:
        me = ctx.obj.get("")
        click.echo(f"b3scale @ {ctx.obj.api_url}")
        click.echo(f"server version: {me['version']}")
        click.echo(f"   api version: {me['api']}")


from b3scale.cli.ctl import commands, tokens  # noqa: E402,F401 - registers the subcommands

"""``b3scale ctl`` against a real ``b3scale serve`` (the seed README's examples verbatim)."""

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from b3scale.cli import main
from b3scale.cli.ctl.auth import token_file
from b3scale.config import load_config
from b3scale.web.api.auth import sign_token
from tests.support.pg import admin_execute, dsn_for
from tests.support.process import Serve

SECRET = "a-long-enough-secret-for-the-tests-0123456789"


@pytest.fixture(scope="module")
def server(pg_admin_dsn: str) -> Iterator[Serve]:
    import asyncio

    name = f"b3scale_ctl_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    with Serve(B3SCALE_DB_URL=dsn_for(pg_admin_dsn, name), B3SCALE_API_JWT_SECRET=SECRET) as serve:
        serve.wait_healthy()
        yield serve
        serve.stop()
    asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE {name} WITH (FORCE)"))


def ctl(
    server: Serve, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    base = {
        "B3SCALE_API_URL": server.url,
        "B3SCALE_API_JWT_SECRET": SECRET,
        "B3SCALE_DB_URL": "unused",
        "B3SCALE_API_ACCESS_TOKEN": "",
    }
    return CliRunner().invoke(main, ["ctl", *args], env={**base, **(env or {})}, input=input)


def ok(result: Result, code: int = 0) -> str:
    assert result.exit_code == code, (result.output, result.stderr)
    return result.stdout


def test_status_without_a_command(server: Serve) -> None:
    out = ok(ctl(server))
    assert out.splitlines() == [
        f"b3scale @ {server.url}",
        "server version: 0.1.0",
        "   api version: v1",
    ]


def test_seed_readme_examples(server: Serve) -> None:
    ok(ctl(server, "set", "backend", "-s", "node-secret", "https://backend23/"))
    out = ok(
        ctl(
            server, "set", "backend", "-j", '{"tags": ["asdf", "foo", "bar"]}', "https://backend23/"
        )
    )
    assert "backend updated" in out
    ok(ctl(server, "set", "frontend", "-s", "fe-secret", "frontend1"))
    ok(ctl(server, "set", "frontend", "-j", '{"required_tags": ["asdf"]}', "frontend1"))
    ok(ctl(server, "set", "frontend", "-j", '{"required_tags": null}', "frontend1"))
    ok(
        ctl(
            server,
            "set",
            "frontend",
            "-j",
            '{"default_presentation": {"url": "https://x/y.pdf"}}',
            "frontend1",
        )
    )
    frontend = json.loads(ok(ctl(server, "show", "--json", "frontend", "frontend1")))
    assert frontend["settings"] == {"default_presentation": {"url": "https://x/y.pdf"}}
    backend = json.loads(ok(ctl(server, "--json", "show", "backend", "https://backend23")))
    assert backend["bbb"]["host"] == "https://backend23/bigbluebutton/api/"
    assert backend["settings"] == {"tags": ["asdf", "foo", "bar"]}
    host = "https://backend23/bigbluebutton/api/"
    assert "already enabled" in ok(ctl(server, "enable", "backend", host), 64)
    assert "backend disabled" in ok(ctl(server, "disable", "backend", host))
    assert "backend enabled" in ok(ctl(server, "en", "backend", host))
    table = ok(ctl(server, "show", "backends"))
    assert table.splitlines()[0].split()[:3] == ["HOST", "ADMIN", "NODE"]
    assert host in table
    assert "frontend1" in ok(ctl(server, "s", "frontends"))
    assert "marked for decommissioning" in ok(ctl(server, "rm", "backend", host))
    assert "already being decommissioned" in ok(ctl(server, "rm", "backend", host), 64)
    assert "deleted" in ok(ctl(server, "delete", "backend", "--force", host))
    assert "not found" in ctl(server, "show", "backend", host).stderr


def test_nothing_to_change_exits_64(server: Serve) -> None:
    ok(ctl(server, "add", "frontend", "-s", "s", "-j", '{"a": 1}', "fe-64"))
    assert "nothing to change" in ok(ctl(server, "set", "frontend", "-j", '{"a": 1}', "fe-64"), 64)
    assert "nothing to change" in ok(ctl(server, "u", "frontend", "-s", "s", "fe-64"), 64)


def test_dry_runs_change_nothing(server: Serve) -> None:
    out = ok(ctl(server, "set", "frontend", "-s", "s", "--dry", "fe-dry"))
    assert out.startswith("dry run: POST /api/v1/frontends")
    assert "not found" in ctl(server, "show", "frontend", "fe-dry").stderr


def test_end_meetings_and_show_meetings(server: Serve) -> None:
    ok(ctl(server, "set", "backend", "-s", "x", "http://127.0.0.1:1/"))
    out = ok(ctl(server, "end", "meetings", "http://127.0.0.1:1"))
    assert "command" in out and "queued" in out
    assert ok(ctl(server, "show", "meetings")).splitlines()[0].startswith("MEETING_ID")
    assert json.loads(ok(ctl(server, "--json", "show", "meetings"))) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "backend", "https://new-node/"), "needs --secret"),
        (("set", "frontend", "-j", "{not json", "x"), "-j is not valid JSON"),
        (("set", "frontend", "-j", "[1]", "x"), "must be a JSON object"),
        (("show", "backend", "ftp://x"), "not an http(s) URL"),
        (("delete", "frontend", "missing-frontend"), "frontend not found"),
    ],
)
def test_errors_are_one_line_and_exit_1(server: Serve, args: tuple[str, ...], message: str) -> None:
    result = ctl(server, *args)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unreachable_api(server: Serve) -> None:
    result = ctl(server, "show", "backends", env={"B3SCALE_API_URL": "http://127.0.0.1:1"})
    assert result.exit_code == 1 and "cannot reach the API" in result.stderr


def test_bad_token_and_user_scope(server: Serve) -> None:
    wrong = sign_token("not-the-secret", "x", "b3scale:admin", 60)
    result = ctl(
        server,
        "show",
        "backends",
        env={"B3SCALE_API_ACCESS_TOKEN": wrong, "B3SCALE_API_JWT_SECRET": ""},
    )
    assert result.exit_code == 1 and "refused the credentials" in result.stderr
    user = sign_token(SECRET, "someone", "b3scale", 60)
    result = ctl(
        server,
        "show",
        "backends",
        env={"B3SCALE_API_ACCESS_TOKEN": user, "B3SCALE_API_JWT_SECRET": ""},
    )
    assert result.exit_code == 1 and "b3scale:admin scope required" in result.stderr


def test_stored_token_and_no_credentials(server: Serve, tmp_path: Path) -> None:
    env = {"B3SCALE_API_JWT_SECRET": "", "XDG_CONFIG_HOME": str(tmp_path)}
    result = ctl(server, "show", "frontends", env=env)
    assert result.exit_code == 1 and "no credentials" in result.stderr
    stored = token_file(load_config({"XDG_CONFIG_HOME": str(tmp_path)}, env_files=()), server.url)
    assert stored.name == server.url.replace("://", "_").replace(":", "_") + ".access_token"
    stored.parent.mkdir(parents=True)
    stored.write_text(sign_token(SECRET, "ctl", "b3scale:admin", 60))
    os.chmod(stored, 0o600)
    assert ctl(server, "show", "frontends", env=env).exit_code == 0


def test_version(server: Serve) -> None:
    out = ok(ctl(server, "version"))
    assert out.splitlines()[0] == "b3scale ctl v0.1.0"
    assert "database up to date" in out


def test_secret_rollover_commands(server: Serve) -> None:
    ok(ctl(server, "set", "frontend", "--add-secret", "first", "rolling"))  # a new frontend
    ok(ctl(server, "set", "frontend", "--add-secret", "second", "rolling"))
    ok(ctl(server, "set", "frontend", "--add-secret", "second", "rolling"), code=64)

    def fails(*args: str) -> str:
        result = ctl(server, "set", "frontend", *args, "rolling")
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.output
        return result.stderr

    assert "retire one first" in fails("--add-secret", "third")
    assert "does not accept" in fails("--retire-secret", "unknown")
    assert "give one of" in fails("--secret", "x", "--retire-secret", "first")
    ok(ctl(server, "set", "frontend", "--retire-secret", "first", "rolling"))
    assert "add one first" in fails("--retire-secret", "second")
    shown = json.loads(ok(ctl(server, "--json", "show", "frontend", "rolling")))
    assert shown["bbb"]["secrets"] == ["second"]

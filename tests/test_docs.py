"""README.md is the user's manual: it must name every variable and every command."""

import re
from pathlib import Path

import click

from b3scale import config
from b3scale.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_environment_variable_is_documented() -> None:
    source = Path(config.__file__).read_text()
    variables = set(re.findall(r'"((?:B3SCALE|BBB)_[A-Z_]+)"', source))
    assert {"B3SCALE_DB_URL", "B3SCALE_LISTEN_HTTP", "BBB_CONFIG"} <= variables
    missing = sorted(v for v in variables if f"`{v}`" not in README)
    assert missing == []


def test_every_subcommand_is_documented() -> None:
    def walk(group: click.Group, prefix: str) -> list[str]:
        names = []
        for name, command in group.commands.items():
            names.append(f"{prefix} {name}")
            if isinstance(command, click.Group):
                names.extend(walk(command, f"{prefix} {name}"))
        return names

    def documented(name: str) -> bool:
        # ctl's table lists its commands without the "b3scale ctl " prefix
        short = name.removeprefix("b3scale ctl ")
        return f"`{name}" in README or any(f"`{short}{end}" in README for end in " `")

    missing = [name for name in walk(main, "b3scale") if not documented(name)]
    assert missing == []


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert any(c.startswith("./build.sh test") for c in commands)

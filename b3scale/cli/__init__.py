"""The ``b3scale`` command: one executable, several subcommands."""

from __future__ import annotations

import click

from b3scale import __version__
from b3scale.cli.check import check
from b3scale.cli.ctl import ctl
from b3scale.cli.db import db
from b3scale.cli.noded import noded
from b3scale.cli.recordings import recordings
from b3scale.cli.serve import serve
from b3scale.cli.sim import sim


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="b3scale")
def main() -> None:
    """b3scale: a multi-tenant load balancer for BigBlueButton.

    Configuration comes from B3SCALE_* environment variables (see README.md).
    """


main.add_command(serve)
main.add_command(db)
main.add_command(noded)
main.add_command(ctl)
main.add_command(sim)
main.add_command(recordings)
main.add_command(check)

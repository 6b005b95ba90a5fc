"""``b3scale noded``: the node agent on each BBB server (not implemented yet)."""

from __future__ import annotations

import click

from b3scale.cli.common import fail


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "-a",
    "-register",
    "--register",
    "register",
    is_flag=True,
    help="Register this BBB node if the cluster does not know it yet.",
)
def noded(register: bool) -> None:
    """Report this BBB node's meetings and attendees to the cluster (node agent)."""
    fail("noded is not implemented yet")

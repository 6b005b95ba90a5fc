"""``b3scale ctl``: operator commands over the REST API (not implemented yet)."""

from __future__ import annotations

import click

from b3scale.cli.common import fail


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ctl(args: tuple[str, ...]) -> None:
    """Manage frontends, backends and meetings through the REST API."""
    fail("ctl is not implemented yet")

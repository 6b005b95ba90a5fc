"""``b3scale sim``: simulated BBB nodes, a development tool for tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import signal

import click

from b3scale.bbb import checksum
from b3scale.cli.common import fail
from b3scale.sim.fleet import Fleet


@click.command(short_help="[development] Run simulated BBB nodes.")
@click.option("--nodes", "-n", default=1, show_default=True, help="How many nodes.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--base-port", default=0, help="Port of the first node; the others follow. Default: free ports."
)
@click.option(
    "--secret-prefix",
    default="sim-secret-",
    show_default=True,
    help="Node i's secret is PREFIX + i.",
)
@click.option("--redis-url", default=None, help="Publish BBB's Redis events here.")
@click.option(
    "--algorithm",
    "algorithms",
    multiple=True,
    type=click.Choice(list(checksum.ALGORITHMS)),
    help="Accept only these checksum algorithms (repeatable). Default: all.",
)
@click.option("--latency", default=0.0, help="Seconds added to every API answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the nodes as JSON.")
def sim(
    nodes: int,
    host: str,
    base_port: int,
    secret_prefix: str,
    redis_url: str | None,
    algorithms: tuple[str, ...],
    latency: float,
    as_json: bool,
) -> None:
    """Run simulated BBB nodes until interrupted (a development tool, not for production).

    Each node answers the BBB API under http://HOST:PORT/bigbluebutton/api/ with its own
    secret; following a join's redirect makes the user arrive in the meeting.
    """
    if nodes < 1:
        fail("--nodes must be at least 1", 2)
    fleet = Fleet(
        nodes,
        host,
        base_port,
        secret_prefix,
        redis_url,
        algorithms or tuple(checksum.ALGORITHMS),
        latency,
    )
    try:
        asyncio.run(_run(fleet, as_json))
    except OSError as exc:
        fail(f"cannot start the simulated nodes: {exc.strerror or exc}")


async def _run(fleet: Fleet, as_json: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = await fleet.start()
    try:
        listing = [{"api_url": n.api_url, "secret": n.secret} for n in started]
        if as_json:
            click.echo(json.dumps(listing))
        else:
            for i, node in enumerate(listing, 1):
                click.echo(f"node {i}  {node['api_url']}  secret={node['secret']}")
        await stop.wait()
    finally:
        await fleet.close()

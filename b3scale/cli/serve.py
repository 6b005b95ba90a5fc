"""``b3scale serve``: the BBB API gateway, REST API and metrics on one HTTP port."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile

import click

from b3scale import __version__
from b3scale.cli import loops
from b3scale.cli.common import EXIT_CONFIG, EXIT_FAILURE, database_config, fail, startup_config
from b3scale.cli.workers import run_workers
from b3scale.config import Config, ConfigError, parse_workers
from b3scale.store.db import DatabaseUnavailable
from b3scale.store.migrate import SchemaTooNew
from b3scale.web.accesslog import AccessLogger
from b3scale.web.app import create_app
from b3scale.web.server import serve_until_signalled

log = logging.getLogger("b3scale")

#: How long in-flight requests may take to finish after SIGTERM/SIGINT.
SHUTDOWN_TIMEOUT = 30.0


@click.command()
@click.option(
    "--workers",
    metavar="N",
    help="Processes serving the port: a number or auto (one per CPU); default B3SCALE_WORKERS, 1.",
)
def serve(workers: str | None) -> None:
    """Run the load balancer (B3SCALE_LISTEN_HTTP; embedded database without B3SCALE_DB_URL)."""
    config = startup_config()
    if workers is not None:
        try:
            config = dataclasses.replace(config, workers=parse_workers(workers))
        except ValueError:
            fail(
                str(ConfigError("--workers", workers, "a number from 1 to 64, or auto")),
                EXIT_CONFIG,
            )
    log.info(
        "booting b3scale",
        extra={"version": __version__, "event_loop": loops.loop_name(config.event_loop)},
    )
    if config.reverse_proxy_mode:
        log.info("reverse proxy mode is enabled")
    with database_config(config) as config:
        log.info("listening", extra={"address": f"http://{config.listen_address}"})
        if config.workers == 1:
            serve_one(config)
        else:
            shared = tempfile.mkdtemp(prefix="b3scale-workers-")
            try:
                code = run_workers(
                    config.workers,
                    lambda index: serve_one(
                        dataclasses.replace(config, worker_index=index, metrics_dir=shared)
                    ),
                )
            finally:
                shutil.rmtree(shared, ignore_errors=True)
            if code:
                fail("stopped: a worker could not start", code)
    log.info("b3scale stopped")


def serve_one(config: Config) -> int:
    """One process serving the port until SIGTERM/SIGINT; with workers, the port is shared."""
    app = create_app(config)
    try:
        loops.run(
            serve_until_signalled(
                app,
                config.listen_host or None,
                config.listen_port,
                SHUTDOWN_TIMEOUT,
                reuse_port=config.workers > 1,
                access_log_class=AccessLogger,
                access_log=logging.getLogger("b3scale.access"),
            ),
            config.event_loop,
        )
    except SchemaTooNew as exc:
        fail(str(exc), EXIT_CONFIG)
    except DatabaseUnavailable as exc:
        fail(str(exc), EXIT_FAILURE)
    except loops.LoopUnavailable as exc:
        fail(str(exc), EXIT_CONFIG)
    except OSError as exc:
        fail(f"cannot listen on {config.listen_address}: {exc.strerror}", EXIT_FAILURE)
    return 0

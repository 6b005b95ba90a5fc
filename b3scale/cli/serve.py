"""``b3scale serve``: the BBB API gateway, REST API and metrics on one HTTP port."""

from __future__ import annotations

import asyncio
import logging

import click

from b3scale import __version__
from b3scale.cli.common import EXIT_CONFIG, EXIT_FAILURE, database_config, fail, startup_config
from b3scale.store.db import DatabaseUnavailable
from b3scale.store.migrate import SchemaTooNew
from b3scale.web.accesslog import AccessLogger
from b3scale.web.app import create_app
from b3scale.web.server import serve_until_signalled

log = logging.getLogger("b3scale")

#: How long in-flight requests may take to finish after SIGTERM/SIGINT.
SHUTDOWN_TIMEOUT = 30.0


@click.command()
def serve() -> None:
    """Run the load balancer (B3SCALE_LISTEN_HTTP; embedded database without B3SCALE_DB_URL)."""
    config = startup_config()
    log.info("booting b3scale", extra={"version": __version__})
    if config.reverse_proxy_mode:
        log.info("reverse proxy mode is enabled")
    with database_config(config) as config:
        app = create_app(config)
        log.info("listening", extra={"address": f"http://{config.listen_address}"})
        try:
            asyncio.run(
                serve_until_signalled(
                    app,
                    config.listen_host or None,
                    config.listen_port,
                    SHUTDOWN_TIMEOUT,
                    access_log_class=AccessLogger,
                    access_log=logging.getLogger("b3scale.access"),
                )
            )
        except SchemaTooNew as exc:
            fail(str(exc), EXIT_CONFIG)
        except DatabaseUnavailable as exc:
            fail(str(exc), EXIT_FAILURE)
        except OSError as exc:
            fail(f"cannot listen on {config.listen_address}: {exc.strerror}", EXIT_FAILURE)
    log.info("b3scale stopped")

"""The HTTP server around the application: long request lines, and BBB or JSON answers (with one
log line, never the request line) for requests aiohttp cannot even parse.

Real frontends send long creates (many ``meta_`` values, presentation URLs): request lines and
headers up to 64 KiB are read. Beyond that, or for a request that is not HTTP, aiohttp answers
before any handler runs, in plain text, and logs the request line with a traceback (checksums and
bearer tokens included). :class:`Runner` makes those answers a BBB FAILED document (or JSON for
``/api/``) and logs one warning line.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from b3scale.bbb.responses import XML_CONTENT_TYPE, failed

log = logging.getLogger(__name__)

#: Longest request line and header line read (aiohttp's default is 8,190 bytes).
MAX_LINE_SIZE = 64 * 1024
HANDLER_ARGS = {"max_line_size": MAX_LINE_SIZE, "max_field_size": MAX_LINE_SIZE}


def _client_error(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a client's malformed request or body."""
    while exc is not None:
        if isinstance(exc, HttpProcessingError | web.RequestPayloadError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class ClientErrorFilter(logging.Filter):
    """aiohttp logs a client's broken body (after the answer went out) as "Unhandled
    exception" with a traceback: made one warning line, without the exception's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and _client_error(record.exc_info[1]):
            record.msg, record.args = "malformed request body refused", ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.__dict__["error"] = type(record.exc_info[1]).__name__
            record.exc_info, record.exc_text = None, None
        return True


def install_log_filter() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorFilter) for f in server_log.filters):
        server_log.addFilter(ClientErrorFilter())


def error_answer(head: bytes, status: int) -> web.Response:
    """What a request we could not parse gets: JSON for the REST API, else BBB's XML."""
    _, _, target = head.partition(b" ")
    if target.startswith(b"/api/"):
        body = (
            b'{"error": "bad_request", "message": "the request line or a header is too long '
            b'or malformed"}'
        )
        response = web.Response(body=body, status=status, content_type="application/json")
    else:
        response = web.Response(
            body=failed(
                "badRequest",
                f"The request line or a header is too long (at most {MAX_LINE_SIZE} bytes) "
                "or malformed.",
            ),
            status=status,
            headers={"Content-Type": XML_CONTENT_TYPE},
        )
    response.force_close()
    return response


class _RequestHandler(RequestHandler):
    """Remembers how its connection began, to answer a request it could not parse in kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = b""

    def data_received(self, data: bytes) -> None:
        if len(self._head) < 16:
            self._head += bytes(data[: 16 - len(self._head)])
        super().data_received(data)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not _client_error(exc) or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        # The client's mistake: one line, without the request line or the headers.
        log.warning(
            "unparsable HTTP request refused",
            extra={"error": type(exc).__name__, "status": status, "remote": request.remote},
        )
        return error_answer(self._head, status)


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    """``web.AppRunner`` whose connections are handled by :class:`_RequestHandler`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server
        return server


async def serve_until_signalled(
    app: web.Application,
    host: str | None,
    port: int,
    shutdown_timeout: float,
    *,
    reuse_port: bool = False,
    **kwargs: Any,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then let requests finish (``shutdown_timeout``).
    ``reuse_port``: other processes listen on the same port (the kernel spreads connections)."""
    runner = Runner(app, shutdown_timeout=shutdown_timeout, **kwargs)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()

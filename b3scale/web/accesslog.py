"""One access-log line per request: method, path (never the query string), status, latency.

The query string of a BBB call carries its checksum, passwords and user names, so it is left
out at every log level.
"""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from b3scale.logs import write_line


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # Written directly (b3scale.logs.write_line): logging's machinery cost a fifth of a
        # join; the line is the same.
        write_line(
            logging.INFO,
            self.logger.name,
            "request",
            {
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "latency_ms": round(time * 1000, 2),
                "remote": request.remote,
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

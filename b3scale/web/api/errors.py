"""REST API errors: JSON with a stable ``error`` code and a ``message``."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from b3scale.logs import Episode
from b3scale.store.db import DatabaseError

log = logging.getLogger(__name__)
database_trouble = Episode(log, "database unavailable or busy; API calls answered 503")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        #: Close the connection after answering: the rest of the body is not worth reading.
        self.close = close
        self.status = status
        self.error = error
        self.message = message
        self.fields = fields

    def response(self) -> web.Response:
        body: dict[str, object] = {"error": self.error, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        response = web.json_response(body, status=self.status)
        if self.close:
            response.force_close()
        return response


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def validation_error(fields: dict[str, list[str]]) -> ApiError:
    return ApiError(400, "validation_error", "validation failed with input", fields)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes JSON; nothing leaks a traceback to the client."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return web.json_response({"error": code, "message": exc.reason}, status=exc.status)
    except DatabaseError as exc:
        database_trouble.report(path=request.path, error=str(exc).strip()[:200])
        return ApiError(503, "database_unavailable", "the database is not available").response()
    except Exception:
        # A bug: one error line with the traceback, the path without its query string.
        log.exception("unexpected error in the REST API", extra={"path": request.path})
        return ApiError(
            500, "internal_error", "the server failed to handle this request"
        ).response()

"""A small synchronous REST API client for ``b3scale ctl`` (stdlib only: starts fast)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from b3scale import __version__

TIMEOUT = 30


class CtlError(Exception):
    """One line for the operator; ``b3scale ctl`` exits 1 with it."""


class ApiClient:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self.api_url}/api/v1{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("User-Agent", f"b3scale-ctl/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:  # noqa: S310
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise CtlError(self._explain(exc)) from None
        except urllib.error.URLError as exc:
            raise CtlError(f"cannot reach the API at {self.api_url}: {exc.reason}") from None
        except (TimeoutError, ConnectionError) as exc:
            raise CtlError(f"cannot reach the API at {self.api_url}: {exc}") from None
        except json.JSONDecodeError:
            raise CtlError(f"{self.api_url} did not answer with JSON: is it b3scale?") from None

    def _explain(self, exc: urllib.error.HTTPError) -> str:
        try:
            body = json.loads(exc.read())
        except (json.JSONDecodeError, OSError):
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        if exc.code == 404 and not body:
            return f"no REST API at {self.api_url} (is B3SCALE_API_JWT_SECRET set on the server?)"
        if exc.code in (401, 403):
            return f"the API refused the credentials: {message or exc.reason}"
        fields = body.get("fields") if isinstance(body, dict) else None
        if fields:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
            return f"{message or exc.reason}: {details}"
        return f"{message or exc.reason} (HTTP {exc.code})"

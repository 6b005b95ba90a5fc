"""``/bbb/<frontend-key>/...``: the BBB API as each frontend sees it.

Finds the frontend, checks the checksum against the raw query exactly as BBB does, and hands
the call to the gateway. Every answer is a BBB document; a client's mistake is never a 500.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from b3scale.bbb import checksum, parse
from b3scale.bbb.request import FORM_CONTENT_TYPE, Request, parse_query
from b3scale.bbb.responses import failed
from b3scale.bbb.text import is_clean
from b3scale.cluster import join_pages
from b3scale.cluster.chain import HTML_CONTENT_TYPE, Context, Reply
from b3scale.store.frontends import KEY_MAX_LENGTH, Frontend
from b3scale.web.keys import CONFIG, FRONTENDS, GATEWAY, METRICS, RETRY_KEY

log = logging.getLogger(__name__)

#: Paths that mean the API root (the version call), after the frontend key.
ROOT_PATHS = frozenset({"", "bigbluebutton", "bigbluebutton/api", "api"})
#: BBB accepts presentations up to 30 MB by default (maxFileSizeUpload) plus the form overhead.
MAX_BODY_SIZE = 40 * 1024 * 1024


def call_name(tail: str) -> str:
    """The BBB call a path names: its last segment; "" for the API root (version)."""
    tail = tail.strip("/")
    return "" if tail in ROOT_PATHS else tail.rsplit("/", 1)[-1]


_JSON_RETURNCODE = re.compile(rb'"returncode"\s*:\s*"([A-Z]+)"')


def result_of(reply: Reply) -> str:
    """The outcome for the metrics: SUCCESS, FAILED, redirect, not_found or error."""
    if reply.status in (301, 302, 303, 307):
        return "redirect"
    code = parse.returncode(reply.body)
    if code is None:
        match = _JSON_RETURNCODE.search(reply.body)
        code = match[1].decode() if match else None
    if code in ("SUCCESS", "FAILED"):
        return code
    return "not_found" if reply.status == 404 else "error"


def render(reply: Reply) -> web.Response:
    headers = {"Content-Type": reply.content_type, "Cache-Control": "no-cache"}
    if reply.location is not None:
        headers["Location"] = reply.location
    response = web.Response(body=reply.body, status=reply.status, headers=headers)
    if reply.close:
        response.force_close()
    return response


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def bbb_api(http: web.Request) -> web.Response:
    """Every outcome is a BBB document (a bug is logged and answered as FAILED, not as text),
    and every outcome is counted in the metrics."""
    call = call_name(http.match_info.get("tail", ""))
    try:
        reply = await _answer(http, call)
    except web.HTTPRequestEntityTooLarge:
        reply = Reply(failed("requestTooLarge", "The request body is too large."), 413)
    except (HttpProcessingError, web.RequestPayloadError):
        # A body that cannot be read as sent (a broken Content-Encoding, a cut chunk).
        reply = Reply(failed("badRequest", "The request body cannot be decoded."), 400, close=True)
    except Exception:
        log.exception("unexpected error in the BBB gateway", extra={"path": http.path})
        reply = Reply(
            failed("internalError", "The load balancer failed to handle this request."), 500
        )
    result = result_of(reply)
    http.app[METRICS].observe_bbb(call, result)
    if log.isEnabledFor(logging.DEBUG):
        # What the access log cannot say; never the query (checksum, passwords, names).
        log.debug(
            "bbb call",
            extra={
                "frontend": frontend_key(http)[:128],
                "call": call[:64],
                "result": result,
            },
        )
    return render(reply)


def plausible_key(key: str) -> bool:
    """Whether ``key`` could name a frontend: a key that cannot costs no database query."""
    return 0 < len(key) <= KEY_MAX_LENGTH and is_clean(key)


def frontend_key(http: web.Request) -> str:
    """The frontend a call is for: ``/bbb/<key>/...``, or, on the standard BBB path, the host
    name ``<key>.<B3SCALE_TENANT_DOMAIN>`` (as Scalelite and B3LB name tenants); "" = none."""
    if "key" in http.match_info:
        return http.match_info["key"]
    domain = http.app[CONFIG].tenant_domain
    if domain is None:
        return ""
    host = (http.host or "").lower()
    if host.startswith("["):
        return ""  # an IPv6 literal names no tenant
    host = host.rsplit(":", 1)[0].rstrip(".")
    label, dot, rest = host.partition(".")
    return label if dot and rest == domain else ""


async def _answer(http: web.Request, call: str) -> Reply:
    key = frontend_key(http)
    frontend = await http.app[FRONTENDS].get(key) if plausible_key(key) else None
    if frontend is None:
        return Reply(
            failed("unknownFrontend", "No frontend with this key is configured on this server.")
        )
    if not frontend.active:
        return Reply(failed("frontendDisabled", "This frontend is disabled."))
    body = await http.read()
    request = verified_request(call, http, body, frontend)
    if request is None:
        return Reply(failed("checksumError"))
    return await http.app[GATEWAY](Context(frontend, request, original_url=http.raw_path))


def verified_request(
    call: str, http: web.Request, body: bytes, frontend: Frontend
) -> Request | None:
    """The BBB request, or None when its checksum is wrong (the version call needs none)."""
    raw_query = http.rel_url.raw_query_string
    content_type = http.headers.get("Content-Type") if body else None
    allowed = frontend.checksum_algorithms or tuple(checksum.ALGORITHMS)
    if not raw_query.strip("&") and media_type(content_type) == FORM_CONTENT_TYPE:
        # bbb-web's rule for a form POST without a query: the parameters come in the body.
        form = body.decode("utf-8", "replace")
        pairs = [(p.key, p.value) for p in parse_query(form)]
        if call and not checksum.verify_form(call, pairs, frontend.accepted_secrets, allowed):
            return None
        return Request.from_query(call, form, method="GET")
    if call and not checksum.verify(call, raw_query, frontend.accepted_secrets, allowed):
        return None
    return Request.from_query(
        call, raw_query, method=http.method, body=body, content_type=content_type
    )


async def retry_join(http: web.Request) -> web.Response:
    url = join_pages.read_retry_token(http.app[RETRY_KEY], http.match_info["token"])
    if url is None:
        return web.Response(
            body=join_pages.meeting_not_found_page(),
            status=404,
            content_type="text/html",
            charset="utf-8",
        )
    return web.Response(
        body=join_pages.retry_page(url),
        headers={"Content-Type": HTML_CONTENT_TYPE, "Cache-Control": "no-cache"},
    )


def add_routes(app: web.Application) -> None:
    # Every path under /bbb gets a BBB answer, an empty or missing key too (unknownFrontend).
    # The path every call takes first: aiohttp tries the resources of a prefix in order.
    app.router.add_route("*", "/bbb/{key:[^/]*}/{tail:.*}", bbb_api)
    app.router.add_route("*", "/bbb", bbb_api)
    app.router.add_route("*", "/bbb/{key:[^/]*}", bbb_api)
    # BBB's own path: the frontend is named by the host (B3SCALE_TENANT_DOMAIN).
    app.router.add_route("*", "/bigbluebutton", bbb_api)
    app.router.add_route("*", "/bigbluebutton/{tail:.*}", bbb_api)
    app.router.add_get("/b3s/retry-join/{token}", retry_join)

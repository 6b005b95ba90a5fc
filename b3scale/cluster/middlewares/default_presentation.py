"""Frontend setting ``default_presentation: {url, force}``: a presentation for every create."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from b3scale.bbb.request import Request
from b3scale.cluster.chain import Context, Handler, Reply

XML_BODY_TYPE = "application/xml"


def presentation_body(url: str) -> bytes:
    filename = posixpath.basename(urlsplit(url).path) or "presentation"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><modules><module name="presentation">'
        f"<document url={quoteattr(url)} filename={quoteattr(filename)}/>"
        "</module></modules>"
    ).encode()


def with_default_presentation(request: Request, setting: Any) -> Request:
    """The create request with the frontend's presentation, unless it brings its own."""
    if request.call != "create" or not isinstance(setting, dict):
        return request  # pass
    url = setting.get("url")
    if not isinstance(url, str) or not url:
        return request  # pass
    if request.body and not setting.get("force"):
        return request  # the frontend's own presentation wins
    return request.with_body(presentation_body(url), XML_BODY_TYPE)


def set_default_presentation(next_handler: Handler) -> Handler:
    async def handler(ctx: Context) -> Reply:
        setting = ctx.frontend.settings.get("default_presentation")
        return await next_handler(ctx.with_request(with_default_presentation(ctx.request, setting)))

    return handler

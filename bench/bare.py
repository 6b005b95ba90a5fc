"""The ceilings: a bare aiohttp handler, and a bare aiohttp proxy to one BBB node.

``python -m bench.bare redirect PORT``: every GET answers 302 with a small page (what a join
answers, without looking anything up). ``python -m bench.bare proxy PORT NODE_API SECRET``:
every GET ``/<call>?<query>`` is signed for the node and forwarded over one shared client
session (the least a balancer must do for a create).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from yarl import URL

from b3scale.bbb import checksum
from b3scale.cli import loops

SESSION = web.AppKey("session", aiohttp.ClientSession)
PAGE = b"<html><body><a href='http://node.example/join'>Continue</a></body></html>"


async def redirect(request: web.Request) -> web.Response:
    return web.Response(
        body=PAGE,
        status=302,
        headers={"Location": "http://node.example/join", "Content-Type": "text/html"},
    )


def proxy_app(node_api: str, secret: str) -> web.Application:
    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[SESSION] = session
            yield

    async def forward(request: web.Request) -> web.Response:
        call = request.match_info["call"]
        query = request.rel_url.raw_query_string
        digest = checksum.compute(call, query, secret)
        url = URL(f"{node_api}{call}?{query}&checksum={digest}", encoded=True)
        async with request.app[SESSION].get(url) as resp:
            body = await resp.read()
            return web.Response(body=body, status=resp.status, content_type="text/xml")

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/{call}", forward)
    return app


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "redirect":
        app = web.Application()
        app.router.add_get("/{tail:.*}", redirect)
    else:
        app = proxy_app(sys.argv[3], sys.argv[4])
    # On the loop serve runs on (B3SCALE_EVENT_LOOP=auto), so the ratios compare like with like.
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        loop=loops.new_loop("auto"),
    )


if __name__ == "__main__":
    main()

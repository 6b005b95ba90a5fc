"""``/ui/``: the operator's dashboard, read-only but for enabling and disabling backends.

Login takes an admin token of the REST API (typed into the form, or passed in the link
``b3scale ctl dashboard`` prints, in the URL's fragment so that it never reaches a server log)
and gives a session cookie: HttpOnly, SameSite=Strict, scoped to /ui/, signed with the key
every instance shares. Without it the page is the login form and the data answer 401. The
one change it can make (a backend's admin state) also needs a header a cross-site form cannot
send. Mounted only where the REST API is (an instance without an API secret has no API).
"""

from __future__ import annotations

import time
from importlib import resources
from uuid import UUID

from aiohttp import web

from b3scale.cluster import tokens
from b3scale.store import backends as backend_store
from b3scale.store import frontends as frontend_store
from b3scale.store import load_samples
from b3scale.store import meetings as meeting_store
from b3scale.store.frontends import Frontend
from b3scale.web.api.auth import decode_token
from b3scale.web.api.errors import ApiError
from b3scale.web.api.shapes import backend_json
from b3scale.web.keys import CONFIG, DATABASE, RETRY_KEY

SESSION_COOKIE = "b3s_ui"
SESSION_PURPOSE = "ui-session"
SESSION_TTL = 12 * 3600
#: The header the page's scripts send with a change (a cross-site form cannot).
CSRF_HEADER = "X-B3scale-UI"
MEETINGS_SHOWN = 2000


def _asset(name: str) -> bytes:
    return (resources.files("b3scale.web") / "ui" / name).read_bytes()


def session_of(request: web.Request) -> str | None:
    """The logged-in admin's subject, or None."""
    claims = tokens.read(
        request.app[RETRY_KEY], SESSION_PURPOSE, request.cookies.get(SESSION_COOKIE, "")
    )
    if claims is None or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


def _page(name: str) -> web.Response:
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return web.Response(
        body=_asset(name), content_type="text/html", charset="utf-8", headers=headers
    )


async def index(request: web.Request) -> web.Response:
    return _page("index.html" if session_of(request) else "login.html")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    types = {"ui.css": "text/css", "ui.js": "application/javascript"}
    if name not in types:
        raise web.HTTPNotFound()
    return web.Response(
        body=_asset(name),
        content_type=types[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def login(request: web.Request) -> web.StreamResponse:
    """An admin token from the form (or the page's script) becomes a session cookie."""
    form = await request.post() if request.content_type != "application/json" else {}
    token = form.get("token") if isinstance(form.get("token"), str) else None
    if token is None and request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            data = None
        token = data.get("token") if isinstance(data, dict) else None
    secret = request.app[CONFIG].api_jwt_secret
    who = None
    if isinstance(token, str) and secret and len(token) < 8192:
        try:
            who = decode_token(token.strip(), secret)
        except ApiError:
            who = None
    if who is None or not who.is_admin:
        raise web.HTTPSeeOther("/ui/?login=failed")
    session = tokens.sign(
        request.app[RETRY_KEY],
        SESSION_PURPOSE,
        {"sub": who.subject or "admin", "exp": int(time.time() + SESSION_TTL)},
    )
    response = web.HTTPSeeOther("/ui/")
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=SESSION_TTL,
        path="/ui/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/ui/")
    response.del_cookie(SESSION_COOKIE, path="/ui/")
    raise response


def _require_session(request: web.Request) -> str:
    subject = session_of(request)
    if subject is None:
        raise web.HTTPUnauthorized(
            text='{"error": "unauthorized", "message": "log in at /ui/"}',
            content_type="application/json",
        )
    return subject


def _limits(frontend: Frontend) -> str:
    parts = []
    if frontend.meetings_limit is not None:
        parts.append(f"meetings ≤ {frontend.meetings_limit}")
    if frontend.attendees_limit is not None:
        parts.append(f"attendees ≤ {frontend.attendees_limit}")
    if frontend.max_participants is not None:
        parts.append(f"{frontend.max_participants} per meeting")
    return ", ".join(parts)


async def overview(request: web.Request) -> web.Response:
    _require_session(request)
    db = request.app[DATABASE]
    backends = []
    for backend in await backend_store.select_backends(db):
        shown = backend_json(backend)
        shown.pop("bbb")
        shown["host"] = backend.host
        shown["load"] = backend.load
        shown["tags"] = backend.tags
        backends.append(shown)
    frontends = await meeting_store.select_frontend_load(db)
    limits = {f.key: _limits(f) for f in await frontend_store.select_frontends(db)}
    rows = await db.fetch_all(
        "SELECT m.external_id, f.key AS frontend, b.host AS backend, m.attendees_count, "
        "m.running, m.created_at FROM meetings m LEFT JOIN frontends f ON f.id = m.frontend_id "
        "LEFT JOIN backends b ON b.id = m.backend_id ORDER BY m.created_at DESC LIMIT %s",
        (MEETINGS_SHOWN,),
    )
    data = {
        "now": time.time(),
        "backends": backends,
        "frontends": [
            {
                "key": f["key"],
                "meetings": f["meetings"],
                "attendees": int(f["attendees"]),
                "limits": limits.get(f["key"], ""),
            }
            for f in frontends
        ],
        "meetings": [
            {
                "meeting": r["external_id"],
                "frontend": r["frontend"],
                "backend": r["backend"],
                "attendees": r["attendees_count"],
                "running": r["running"],
                "since": r["created_at"].isoformat(),
            }
            for r in rows
        ],
        # Sampled into the database every 30 s by the background jobs: every instance shows
        # the same history, whether or not anyone watched.
        "history": {str(k): v for k, v in (await load_samples.select_samples(db)).items()},
    }
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def set_backend_state(request: web.Request) -> web.Response:
    """Enable (ready) or disable (stopped) a backend: the dashboard's one change."""
    _require_session(request)
    if request.headers.get(CSRF_HEADER) != "1":
        raise web.HTTPForbidden(text="missing the dashboard's header")
    try:
        backend_id = UUID(request.match_info["id"])
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="bad backend or body") from None
    state = data.get("admin_state") if isinstance(data, dict) else None
    if state not in ("ready", "stopped"):
        raise web.HTTPBadRequest(text="admin_state must be ready or stopped")
    db = request.app[DATABASE]
    if await backend_store.select_backend(db, backend_id) is None:
        raise web.HTTPNotFound(text="no such backend")
    await backend_store.set_admin_state(db, backend_id, state)
    await backend_store.request_poll(db, backend_id)
    return web.json_response({"id": str(backend_id), "admin_state": state})


async def to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ui", to_index)
    app.router.add_get("/ui/", index)
    app.router.add_get("/ui/assets/{name}", asset)
    app.router.add_post("/ui/login", login)
    app.router.add_post("/ui/logout", logout)
    app.router.add_get("/ui/api/overview", overview)
    app.router.add_post("/ui/api/backends/{id}/state", set_backend_state)

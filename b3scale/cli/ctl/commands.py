"""The subcommands of ``b3scale ctl`` (b3scalectl's tree, aliases and flags)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from b3scale import __version__
from b3scale.cli.ctl import (
    EXIT_NO_CHANGE,
    AliasedGroup,
    Session,
    ctl,
    emit,
    errors_as_one_line,
    host_argument,
    pass_session,
    settings_option,
)
from b3scale.cli.ctl.client import CtlError
from b3scale.cli.ctl.output import print_table
from b3scale.config import load_config
from b3scale.web.api.auth import sign_token
from b3scale.web.api.merge import merge_patch

DRY = click.option("--dry", is_flag=True, help="Show what would be sent; change nothing.")


def find_backend(session: Session, host: str) -> dict[str, Any] | None:
    found = session.get("/backends", host=host)
    return found[0] if found else None


def find_frontend(session: Session, key: str) -> dict[str, Any] | None:
    found = session.get("/frontends", key=key)
    return found[0] if found else None


def need_backend(session: Session, host: str) -> dict[str, Any]:
    backend = find_backend(session, host)
    if backend is None:
        raise CtlError(f"backend not found: {host}")
    return backend


def need_frontend(session: Session, key: str) -> dict[str, Any]:
    frontend = find_frontend(session, key)
    if frontend is None:
        raise CtlError(f"frontend not found: {key}")
    return frontend


def dry_run(method: str, path: str, body: Any = None) -> None:
    click.echo(f"dry run: {method} /api/v1{path}")
    if body is not None:
        click.echo(json.dumps(body, indent=2, sort_keys=True))


def no_change(message: str) -> None:
    click.echo(message)
    sys.exit(EXIT_NO_CHANGE)


# -- show ------------------------------------------------------------------------------------


@ctl.group(cls=AliasedGroup)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_session
def show(session: Session, as_json: bool) -> None:
    """Show backends, frontends, meetings or callbacks."""
    session.as_json = session.as_json or as_json


@show.command("backends")
@pass_session
@errors_as_one_line
def show_backends(session: Session) -> None:
    """All backends with state, health and load."""
    backends = session.get("/backends")

    def table() -> None:
        print_table(
            [
                "HOST",
                "ADMIN",
                "NODE",
                "HEALTHY",
                "MEETINGS",
                "ATTENDEES",
                "LOAD_FACTOR",
                "LATENCY_MS",
                "TAGS",
                "LAST_ERROR",
            ],
            [
                [
                    b["bbb"]["host"],
                    b["admin_state"],
                    b["node_state"],
                    "yes" if b["healthy"] else "no",
                    b["meetings_count"],
                    b["attendees_count"],
                    b["load_factor"],
                    round(b["latency"] / 1e6, 1),
                    ",".join(b["settings"].get("tags") or []),
                    b["last_error"] or "",
                ]
                for b in backends
            ],
        )

    emit(session, backends, table)


@show.command("backend")
@click.argument("host", type=str)
@pass_session
@errors_as_one_line
def show_backend(session: Session, host: str) -> None:
    """One backend and its settings."""
    backend = need_backend(session, host_argument(host))

    def details() -> None:
        click.echo(f"Backend: {backend['bbb']['host']}")
        for key in (
            "id",
            "admin_state",
            "node_state",
            "healthy",
            "meetings_count",
            "attendees_count",
            "load_factor",
            "checksum_algorithm",
            "agent_heartbeat",
            "synced_at",
            "last_error",
        ):
            click.echo(f"  {key}: {backend[key]}")
        click.echo("  settings: " + json.dumps(backend["settings"], indent=2).replace("\n", "\n  "))

    emit(session, backend, details)


@show.command("frontends")
@pass_session
@errors_as_one_line
def show_frontends(session: Session) -> None:
    """All frontends (secrets only in ``show frontend KEY``)."""
    frontends = session.get("/frontends")

    def table() -> None:
        print_table(
            ["KEY", "ACTIVE", "ACCOUNT", "REQUIRED_TAGS", "ID"],
            [
                [
                    f["bbb"]["key"],
                    "yes" if f["active"] else "no",
                    f["account_ref"] or "",
                    ",".join(f["settings"].get("required_tags") or []),
                    f["id"],
                ]
                for f in frontends
            ],
        )

    emit(session, frontends, table)


@show.command("frontend")
@click.argument("key")
@pass_session
@errors_as_one_line
def show_frontend(session: Session, key: str) -> None:
    """One frontend, its secret and settings."""
    frontend = need_frontend(session, key)

    def details() -> None:
        click.echo(f"Frontend: {frontend['bbb']['key']}")
        click.echo(f"  id: {frontend['id']}")
        click.echo(f"  secret: {frontend['bbb']['secret']}")
        for older in (frontend["bbb"].get("secrets") or [])[1:]:
            click.echo(f"  also accepted (retire when unused): {older}")
        click.echo(f"  active: {frontend['active']}")
        click.echo(f"  account_ref: {frontend['account_ref']}")
        click.echo(
            "  settings: " + json.dumps(frontend["settings"], indent=2).replace("\n", "\n  ")
        )

    emit(session, frontend, details)


@show.command("meetings")
@click.option("--backend", "backend_host", default=None, help="Only this backend's meetings.")
@click.option("--frontend", "frontend_key", default=None, help="Only this frontend's meetings.")
@pass_session
@errors_as_one_line
def show_meetings(session: Session, backend_host: str | None, frontend_key: str | None) -> None:
    """Meetings, with their frontend and backend."""
    query: dict[str, str] = {}
    if backend_host:
        query["backend_host"] = host_argument(backend_host)
    if frontend_key:
        query["frontend_id"] = need_frontend(session, frontend_key)["id"]
    meetings = session.get("/meetings", **query)

    def table() -> None:
        frontends = {f["id"]: f["bbb"]["key"] for f in session.get("/frontends")}
        backends = {b["id"]: b["bbb"]["host"] for b in session.get("/backends")}
        print_table(
            ["MEETING_ID", "FRONTEND", "BACKEND", "RUNNING", "ATTENDEES", "NAME"],
            [
                [
                    m["meeting_id"],
                    frontends.get(m["frontend_id"], ""),
                    backends.get(m["backend_id"], ""),
                    "yes" if m["running"] else "no",
                    m["attendees_count"],
                    m["name"],
                ]
                for m in meetings
            ],
        )

    emit(session, meetings, table)


# -- set ---------------------------------------------------------------------------------------


@ctl.group("set", cls=AliasedGroup)
def set_group() -> None:
    """Create or change a backend or frontend (-j settings JSON is merged; null unsets)."""


@set_group.command("backend")
@click.argument("host")
@click.option("--secret", "-s", default=None, help="The node's BBB secret.")
@click.option("--opts", "-j", "opts", default=None, metavar="JSON", help="Settings to merge.")
@click.option(
    "--agent-ref",
    default=None,
    metavar="REF",
    help="Bind the backend to the node agent with this reference ('' unbinds).",
)
@DRY
@pass_session
@errors_as_one_line
def set_backend(
    session: Session,
    host: str,
    secret: str | None,
    opts: str | None,
    agent_ref: str | None,
    dry: bool,
) -> None:
    """Add a backend (needs --secret) or change its secret, settings and node agent."""
    host = host_argument(host)
    settings = settings_option(opts)
    backend = find_backend(session, host)
    if backend is None:
        if not secret:
            raise CtlError(f"backend {host} does not exist; adding it needs --secret")
        body: dict[str, Any] = {
            "bbb": {"host": host, "secret": secret},
            "settings": merge_patch({}, settings),
        }
        if agent_ref:
            body["agent_ref"] = agent_ref
        if dry:
            return dry_run("POST", "/backends", body)
        created = session.send("POST", "/backends", body)
        click.echo(f"backend added: {created['bbb']['host']} ({created['id']})")
        return None
    patch: dict[str, Any] = {}
    if settings and merge_patch(backend["settings"], settings) != backend["settings"]:
        patch["settings"] = settings
    if secret and secret != backend["bbb"]["secret"]:
        patch["bbb"] = {"secret": secret}
    if agent_ref is not None and (agent_ref or None) != backend.get("agent_ref"):
        patch["agent_ref"] = agent_ref or None
    if not patch:
        return no_change(f"backend {host}: nothing to change")
    if dry:
        return dry_run("PATCH", f"/backends/{backend['id']}", patch)
    session.send("PATCH", f"/backends/{backend['id']}", patch)
    click.echo(f"backend updated: {host}")
    return None


@set_group.command("frontend")
@click.argument("key")
@click.option("--secret", "-s", default=None, help="The frontend's BBB secret (replaces all).")
@click.option(
    "--add-secret",
    default=None,
    metavar="SECRET",
    help="A new current secret; the old one keeps working until retired (rollover).",
)
@click.option("--retire-secret", default=None, metavar="SECRET", help="Stop accepting this secret.")
@click.option("--opts", "-j", "opts", default=None, metavar="JSON", help="Settings to merge.")
@DRY
@pass_session
@errors_as_one_line
def set_frontend(
    session: Session,
    key: str,
    secret: str | None,
    add_secret: str | None,
    retire_secret: str | None,
    opts: str | None,
    dry: bool,
) -> None:
    """Add a frontend (needs --secret) or change its secrets and settings.

    A secret rollover without failed calls: --add-secret NEW, switch the frontend's apps to
    NEW, then --retire-secret OLD.
    """
    if sum(x is not None for x in (secret, add_secret, retire_secret)) > 1:
        raise CtlError("give one of --secret, --add-secret and --retire-secret")
    settings = settings_option(opts)
    frontend = find_frontend(session, key)
    if frontend is None:
        secret = secret or add_secret
        if not secret:
            raise CtlError(f"frontend {key} does not exist; adding it needs --secret")
        body = {"bbb": {"key": key, "secret": secret}, "settings": merge_patch({}, settings)}
        if dry:
            return dry_run("POST", "/frontends", body)
        created = session.send("POST", "/frontends", body)
        click.echo(f"frontend added: {key} ({created['id']})")
        return None
    patch: dict[str, Any] = {}
    if settings and merge_patch(frontend["settings"], settings) != frontend["settings"]:
        patch["settings"] = settings
    current: list[str] = frontend["bbb"].get("secrets") or [frontend["bbb"]["secret"]]
    if secret and current != [secret]:
        patch["bbb"] = {"secret": secret}
    if add_secret and current[0] != add_secret:
        others = [s for s in current if s != add_secret]
        if len(others) > 1:
            raise CtlError(
                f"frontend {key} accepts two secrets already; retire one first (--retire-secret)"
            )
        patch["bbb"] = {"secrets": [add_secret, *others]}
    if retire_secret:
        if retire_secret not in current:
            raise CtlError(f"frontend {key} does not accept this secret")
        if current == [retire_secret]:
            raise CtlError(f"frontend {key} has no other secret; add one first (--add-secret)")
        patch["bbb"] = {"secrets": [s for s in current if s != retire_secret]}
    if not patch:
        return no_change(f"frontend {key}: nothing to change")
    if dry:
        return dry_run("PATCH", f"/frontends/{frontend['id']}", patch)
    session.send("PATCH", f"/frontends/{frontend['id']}", patch)
    click.echo(f"frontend updated: {key}")
    return None


# -- delete, enable, disable, end ----------------------------------------------------------------


@ctl.group(cls=AliasedGroup)
def delete() -> None:
    """Remove a backend (decommission; --force deletes now) or a frontend."""


@delete.command("backend")
@click.argument("host")
@click.option("--force", "-f", is_flag=True, help="Delete now, with its meetings' records.")
@DRY
@pass_session
@errors_as_one_line
def delete_backend(session: Session, host: str, force: bool, dry: bool) -> None:
    """Decommission a backend: no new meetings; deleted after its last meeting ends."""
    backend = need_backend(session, host_argument(host))
    query = {"force": "true"} if force else {}
    if dry:
        return dry_run("DELETE", f"/backends/{backend['id']}" + ("?force=true" if force else ""))
    if not force and backend["admin_state"] == "decommissioned":
        return no_change(f"backend {backend['bbb']['host']} is already being decommissioned")
    session.send("DELETE", f"/backends/{backend['id']}", **query)
    click.echo(
        f"backend {'deleted' if force else 'marked for decommissioning'}: {backend['bbb']['host']}"
    )
    return None


@delete.command("frontend")
@click.argument("key")
@click.option(
    "--with-recordings", is_flag=True, help="Also delete its imported recordings and their files."
)
@DRY
@pass_session
@errors_as_one_line
def delete_frontend(session: Session, key: str, with_recordings: bool, dry: bool) -> None:
    """Delete a frontend (its meetings keep running on their backends). One with imported
    recordings needs --with-recordings."""
    frontend = need_frontend(session, key)
    query = {"with_recordings": "true"} if with_recordings else {}
    path = f"/frontends/{frontend['id']}"
    if dry:
        return dry_run("DELETE", path + ("?with_recordings=true" if with_recordings else ""))
    session.send("DELETE", path, **query)
    click.echo(f"frontend deleted: {key}")
    return None


def set_admin_state(session: Session, host: str, state: str, dry: bool, done: str) -> None:
    backend = need_backend(session, host_argument(host))
    if backend["admin_state"] == state:
        no_change(f"backend {backend['bbb']['host']} is already {done}")
    if dry:
        dry_run("PATCH", f"/backends/{backend['id']}", {"admin_state": state})
        return
    session.send("PATCH", f"/backends/{backend['id']}", {"admin_state": state})
    click.echo(f"backend {done}: {backend['bbb']['host']}")


@ctl.group(cls=AliasedGroup)
def enable() -> None:
    """Let a backend take new meetings (admin_state ready)."""


@enable.command("backend")
@click.argument("host")
@DRY
@pass_session
@errors_as_one_line
def enable_backend(session: Session, host: str, dry: bool) -> None:
    """Let the backend take new meetings."""
    set_admin_state(session, host, "ready", dry, "enabled")


@ctl.group(cls=AliasedGroup)
def disable() -> None:
    """Stop giving a backend new meetings (running ones go on)."""


@disable.command("backend")
@click.argument("host")
@DRY
@pass_session
@errors_as_one_line
def disable_backend(session: Session, host: str, dry: bool) -> None:
    """No new meetings for this backend; its running meetings and their joins go on."""
    set_admin_state(session, host, "stopped", dry, "disabled")


@ctl.group()
def end() -> None:
    """End meetings."""


@end.command("meetings")
@click.argument("host")
@pass_session
@errors_as_one_line
def end_meetings(session: Session, host: str) -> None:
    """End every meeting on a backend (runs in the background)."""
    command = session.send("DELETE", "/meetings", backend_host=host_argument(host))
    emit(
        session,
        command,
        lambda: click.echo(
            f"ending all meetings on {host_argument(host)}: command {command['id']} queued"
        ),
    )


@ctl.command()
@pass_session
@errors_as_one_line
def version(session: Session) -> None:
    """The versions of ctl and of the server."""
    click.echo(f"b3scale ctl v{__version__}")
    status = session.get("/status")
    emit(
        session,
        status,
        lambda: click.echo(
            f"API status: server v{status['version']}, api {status['api']}, database "
            f"{'up to date' if status['database'].get('migrated') else 'NOT migrated'}"
        ),
    )


@show.command("callbacks")
@click.option(
    "--state", type=click.Choice(["pending", "failed", "delivered"]), help="only this state"
)
@pass_session
@errors_as_one_line
def show_callbacks(session: Session, state: str | None) -> None:
    """Callback deliveries to frontends: pending and failed (or --state)."""
    deliveries = session.get("/callbacks" + (f"?state={state}" if state else ""))

    def table() -> None:
        print_table(
            ["ID", "FRONTEND", "KIND", "STATE", "ATTEMPTS", "NEXT_ATTEMPT", "LAST_ERROR", "URL"],
            [
                [
                    c["id"],
                    c["frontend"],
                    c["kind"],
                    c["state"],
                    c["attempts"],
                    c["next_attempt_at"] if c["state"] == "pending" else "",
                    c["last_error"] or "",
                    c["url"],
                ]
                for c in deliveries
            ],
        )

    emit(session, deliveries, table)


@show.command("recordings")
@click.option("--frontend", "frontend_key", default=None, help="Only this frontend's.")
@pass_session
@errors_as_one_line
def show_recordings(session: Session, frontend_key: str | None) -> None:
    """Recordings imported from the nodes (b3scale recordings push)."""
    found = session.get("/recordings", **({"frontend_key": frontend_key} if frontend_key else {}))

    def table() -> None:
        print_table(
            ["RECORD_ID", "MEETING", "NAME", "STATE", "PROTECTED", "FORMATS", "FROM"],
            [
                [
                    r["record_id"],
                    r["meeting_id"],
                    r["name"],
                    r["state"],
                    r["protected"],
                    ",".join(f for f in r["formats"] if f),
                    r["backend_host"] or "",
                ]
                for r in found
            ],
        )

    emit(session, found, table)


@ctl.command("dashboard")
@pass_session
@errors_as_one_line
def dashboard(session: Session) -> None:
    """Print a link that logs a browser in to the dashboard (valid 10 minutes)."""
    secret = load_config().api_jwt_secret
    if not secret:
        raise CtlError("the dashboard link is signed with B3SCALE_API_JWT_SECRET: set it")
    token = sign_token(secret, "b3scale-ctl", "b3scale:admin", 600)
    click.echo(f"{session.api_url}/ui/#login={token}")


def top_lines(backends: list[dict[str, Any]], frontends: list[dict[str, Any]]) -> list[str]:
    """The overview `ctl top` prints: unhealthy backends first, then by load."""
    rows = sorted(backends, key=lambda b: (bool(b["healthy"]), -float(b.get("load") or 0)))
    down = sum(1 for b in backends if not b["healthy"])
    meetings = sum(int(b["meetings_count"]) for b in backends)
    attendees = sum(int(b["attendees_count"]) for b in backends)
    lines = [
        f"b3scale top — {time.strftime('%H:%M:%S')}: {len(backends)} backends ({down} down), "
        f"{meetings} meetings, {attendees} attendees",
        "",
        f"{'BACKEND':<48} {'STATE':<14} {'HEALTH':<8} {'MEETINGS':>8} {'ATTENDEES':>9} "
        f"{'LATENCY':>8}  LAST ERROR",
    ]
    for b in rows:
        latency = f"{b['latency'] / 1e6:.0f} ms" if b.get("latency") else ""
        lines.append(
            f"{b['bbb']['host'][:48]:<48} {b['admin_state']:<14} "
            f"{'up' if b['healthy'] else 'DOWN':<8} {b['meetings_count']:>8} "
            f"{b['attendees_count']:>9} {latency:>8}  {(b.get('last_error') or '')[:60]}"
        )
    lines += ["", f"{'FRONTEND':<48} {'ACTIVE':<8}"]
    lines += [f"{f['bbb']['key'][:48]:<48} {str(f['active']).lower():<8}" for f in frontends]
    return lines


@ctl.command("top")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print once and exit (for scripts).")
@pass_session
@errors_as_one_line
def top(session: Session, interval: float, once: bool) -> None:
    """The cluster at a glance, refreshed every 2 s (Ctrl-C leaves)."""
    try:
        while True:
            lines = top_lines(session.get("/backends"), session.get("/frontends"))
            if not once:
                click.clear()
            click.echo("\n".join(lines))
            if once:
                return
            time.sleep(max(0.5, interval))
    except KeyboardInterrupt:
        return

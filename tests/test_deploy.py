"""The deployment kit: systemd units and nginx configs checked by the tools that run them
(where installed), ``b3scale check`` as a unit and a deploy script run it, and a database of the
first release's schema under today's ``serve``."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from b3scale.bbb.request import Request
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.store.migrate import load_migrations
from tests.support.process import ROOT, Serve, run_b3scale
from tests.support.services import free_port

CONTRIB = ROOT / "contrib"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    # The units name /usr/local/bin/b3scale; systemd-analyze checks that it exists, so the
    # copies point at an executable that does.
    binary = tmp_path / "b3scale"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    units = []
    for unit in sorted((CONTRIB / "systemd").glob("*.service")):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/usr/local/bin/b3scale", str(binary)))
        units.append(str(copy))
    assert len(units) == 2
    done = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    text = (CONTRIB / "systemd" / "b3scale.service").read_text()
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
        assert hardening in text
    assert "EnvironmentFile=-/etc/default/b3scale" in text
    assert "ExecStartPre=/usr/local/bin/b3scale check" in text
    assert "ExecStartPost=/usr/local/bin/b3scale check --healthz" in text


def self_signed_certificate(folder: Path) -> None:
    """cert.pem and key.pem in ``folder``, for bbb.example.org."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
         "-subj", "/CN=bbb.example.org"],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx (and openssl) not installed",
)
def test_nginx_configs_pass_nginx_t(tmp_path: Path) -> None:
    self_signed_certificate(tmp_path)
    includes = []
    for conf in sorted((CONTRIB / "nginx").glob("*.conf")):
        text = conf.read_text()
        for name in ("bbb.example.org", "rec.example.org"):
            text = text.replace(f"/etc/ssl/certs/{name}.pem", str(tmp_path / "cert.pem"))
            text = text.replace(f"/etc/ssl/private/{name}.key", str(tmp_path / "key.pem"))
        copy = tmp_path / conf.name
        copy.write_text(text)
        includes.append(f"include {copy};")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{chr(10).join(includes)}\n}}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    site = (CONTRIB / "nginx" / "b3scale.conf").read_text()
    # The request line goes on unchanged (a URI after the upstream would re-encode it).
    assert "proxy_pass http://b3scale;" in site and "proxy_pass http://b3scale/" not in site


def test_check_reports_and_exits_by_what_it_found(
    migrated_db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    ready = run_b3scale("check", B3SCALE_DB_URL=migrated_db_url)
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.splitlines()[-1] == "ready" and "schema" in ready.stdout
    assert len(ready.stdout.splitlines()) <= 8
    pending = run_b3scale("check", B3SCALE_DB_URL=empty_db_url)
    assert pending.returncode == 1 and "migrations pending" in pending.stderr
    down = run_b3scale(
        "check", B3SCALE_DB_URL="postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2"
    )
    assert down.returncode == 1 and "does not answer" in down.stderr
    assert "hunter2" not in down.stdout + down.stderr
    wrong = run_b3scale("check", B3SCALE_LISTEN_HTTP="nowhere")
    assert wrong.returncode == 2 and "B3SCALE_LISTEN_HTTP" in wrong.stderr
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    unwritable = run_b3scale(
        "check", B3SCALE_DB_URL=migrated_db_url, B3SCALE_RECORDINGS_DIR=str(locked / "in")
    )
    if unwritable.returncode == 0:  # root may write anywhere
        assert "writable" in unwritable.stdout
    else:
        assert unwritable.returncode == 1 and "not writable" in unwritable.stderr
    nothing = run_b3scale("check", "--healthz", "--timeout", "1", B3SCALE_LISTEN_HTTP="127.0.0.1:1")
    assert nothing.returncode == 1 and "did not answer" in nothing.stderr


def test_check_healthz_waits_for_a_starting_serve(migrated_db_url: str) -> None:
    with Serve(B3SCALE_DB_URL=migrated_db_url) as serve:
        waited = run_b3scale("check", "--healthz", B3SCALE_LISTEN_HTTP=f"127.0.0.1:{serve.port}")
        assert waited.returncode == 0 and "/healthz" in waited.stdout
        serve.stop()


def test_todays_serve_upgrades_the_first_releases_schema(empty_db_url: str) -> None:
    first = load_migrations()[0]

    async def first_release() -> None:
        db = await Database.connect(empty_db_url, 1)
        try:
            await db.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            async with db.transaction() as tx:
                await tx.execute(first.sql)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (first.version, first.name),
                )
        finally:
            await db.close()

    asyncio.run(first_release())
    before = run_b3scale("db", "status", B3SCALE_DB_URL=empty_db_url)
    assert before.returncode == 1 and "pending  0002" in before.stdout
    with Serve(B3SCALE_DB_URL=empty_db_url) as serve:
        serve.wait_healthy()
        assert serve.stop() == 0
    after = run_b3scale("db", "status", B3SCALE_DB_URL=empty_db_url)
    assert after.returncode == 0 and "pending" not in after.stdout


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx (and openssl) not installed",
)
def test_through_nginx_over_tls_as_the_units_run_it(migrated_db_url: str, tmp_path: Path) -> None:
    """What the unit runs (check, serve, check --healthz, SIGTERM) behind contrib's nginx
    config with a self-signed certificate: /healthz and a signed BBB call over TLS."""
    env = {"B3SCALE_DB_URL": migrated_db_url}
    assert run_b3scale("check", **env).returncode == 0  # ExecStartPre
    self_signed_certificate(tmp_path)
    with Serve(port=None, **env) as serve:  # ExecStart
        ready = run_b3scale("check", "--healthz", B3SCALE_LISTEN_HTTP=f"127.0.0.1:{serve.port}")
        assert ready.returncode == 0  # ExecStartPost
        tls_port, plain_port = free_port(), free_port()
        site = (CONTRIB / "nginx" / "b3scale.conf").read_text()
        site = (
            site.replace("server 10.0.0.11:42353", f"server 127.0.0.1:{serve.port}")
            .replace("    server 10.0.0.12:42353 max_fails=3 fail_timeout=10s;\n", "")
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl;")
            .replace("listen 80;", f"listen 127.0.0.1:{plain_port};")
            .replace("    listen [::]:443 ssl http2;\n", "")
            .replace("    listen [::]:80;\n", "")
            .replace("/etc/ssl/certs/bbb.example.org.pem", str(tmp_path / "cert.pem"))
            .replace("/etc/ssl/private/bbb.example.org.key", str(tmp_path / "key.pem"))
        )
        (tmp_path / "site.conf").write_text(site)
        (tmp_path / "nginx.conf").write_text(
            f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
            f"events {{}}\nhttp {{\naccess_log off;\ninclude {tmp_path}/site.conf;\n}}\n"
        )
        nginx = subprocess.Popen(
            ["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
            stderr=subprocess.DEVNULL,
        )
        try:
            context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
            context.check_hostname = False
            base = f"https://127.0.0.1:{tls_port}"

            def fetch(path: str) -> tuple[int, bytes]:
                for _ in range(50):
                    try:
                        with urllib.request.urlopen(base + path, context=context, timeout=5) as r:
                            return r.status, r.read()
                    except urllib.error.HTTPError as exc:
                        return exc.code, exc.read()
                    except OSError:
                        time.sleep(0.1)  # nginx still starting
                raise AssertionError("nginx did not answer")

            status, body = fetch("/healthz")
            assert status == 200, body
            asyncio.run(_frontend(migrated_db_url))
            # A query with characters nginx would re-encode if it rewrote the request line.
            query = Request.build(
                "isMeetingRunning", {"meetingID": "a room, with ~ and +"}
            ).signed_query("fe-tls-secret")
            status, body = fetch(f"/bbb/fe-tls/bigbluebutton/api/isMeetingRunning?{query}")
            assert status == 200 and b"<returncode>SUCCESS</returncode>" in body, body
        finally:
            nginx.terminate()
            nginx.wait(10)
        assert serve.stop() == 0  # systemctl stop: SIGTERM, drained, exit 0


async def _frontend(db_url: str) -> None:
    db = await Database.connect(db_url, 1)
    try:
        await db.execute("DELETE FROM frontends WHERE key = 'fe-tls'")
        await insert_frontend(db, "fe-tls", "fe-tls-secret")
    finally:
        await db.close()

"""With B3SCALE_LOG_LEVEL=debug, a full create/join/end cycle leaves no secret in the logs."""

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

from b3scale.bbb.request import Request
from b3scale.web.api.auth import sign_token
from tests.support.pg import admin_execute, dsn_for
from tests.support.process import ROOT, Serve, clean_env, run_b3scale
from tests.support.services import free_port

API_SECRET = "api-secret-that-must-not-leak-0123456789"
FRONTEND_SECRET = "frontend-secret-that-must-not-leak"
PASSWORDS = ("moderator-pw-not-in-logs", "attendee-pw-not-in-logs")


@pytest.fixture
def sim_node() -> Iterator[dict[str, str]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "b3scale",
            "sim",
            "--nodes",
            "1",
            "--base-port",
            str(port),
            "--secret-prefix",
            "node-secret-not-in-logs-",
            "--json",
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    node = json.loads(proc.stdout.readline())[0]
    yield node
    proc.terminate()
    proc.wait(timeout=10)
    proc.stdout.close()


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body else None
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_debug_logs_hold_no_secrets(pg_admin_dsn: str, sim_node: dict[str, str]) -> None:
    name = f"b3scale_logs_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    token = sign_token(API_SECRET, "admin", "b3scale:admin", 600)
    checksums: list[str] = []
    with Serve(
        B3SCALE_DB_URL=dsn_for(pg_admin_dsn, name),
        B3SCALE_API_JWT_SECRET=API_SECRET,
        B3SCALE_LOG_LEVEL="debug",
        B3SCALE_LOG_FORMAT="structured",
        B3SCALE_POLL_INTERVAL="1",
    ) as serve:
        serve.wait_healthy()
        api = f"{serve.url}/api/v1"
        assert (
            http(
                "POST",
                f"{api}/backends",
                {"bbb": {"host": sim_node["api_url"], "secret": sim_node["secret"]}},
                token,
            )[0]
            == 201
        )
        assert (
            http(
                "POST", f"{api}/frontends", {"bbb": {"key": "fe", "secret": FRONTEND_SECRET}}, token
            )[0]
            == 201
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            backends = json.loads(http("GET", f"{api}/backends", token=token)[1])
            if backends[0]["healthy"]:
                break
            time.sleep(0.2)

        def bbb(call: str, params: dict[str, str]) -> tuple[int, bytes]:
            query = Request.build(call, params).signed_query(FRONTEND_SECRET)
            checksums.append(query.rsplit("checksum=", 1)[1])
            return http("GET", f"{serve.url}/bbb/fe/bigbluebutton/api/{call}?{query}")

        status, body = bbb(
            "create",
            {
                "meetingID": "secret-room",
                "name": "Room",
                "moderatorPW": PASSWORDS[0],
                "attendeePW": PASSWORDS[1],
            },
        )
        assert b"SUCCESS" in body, body
        status, _ = bbb(
            "join", {"meetingID": "secret-room", "fullName": "Eve", "password": PASSWORDS[0]}
        )
        assert status == 302
        assert b"SUCCESS" in bbb("getMeetingInfo", {"meetingID": "secret-room"})[1]
        assert b"SUCCESS" in bbb("end", {"meetingID": "secret-room", "password": PASSWORDS[0]})[1]
        ctl = run_b3scale(
            "ctl",
            "show",
            "backends",
            B3SCALE_API_URL=serve.url,
            B3SCALE_API_ACCESS_TOKEN=token,
            B3SCALE_LOG_LEVEL="debug",
        )
        assert ctl.returncode == 0 and sim_node["api_url"] in ctl.stdout, ctl.stderr
        for secret in (token, sim_node["secret"], API_SECRET):
            assert secret not in ctl.stdout + ctl.stderr
        assert serve.stop() == 0
        logs = serve.output
    asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE {name} WITH (FORCE)"))

    debug = [json.loads(line) for line in logs.splitlines() if '"level": "debug"' in line]
    assert {
        (e["frontend"], e["call"], e["result"]) for e in debug if e["message"] == "bbb call"
    } >= {
        ("fe", "create", "SUCCESS"),
        ("fe", "join", "redirect"),
        ("fe", "end", "SUCCESS"),
    }
    assert "/bbb/fe/bigbluebutton/api/create" in logs  # the access log is there...
    info = [json.loads(line) for line in logs.splitlines() if '"level": "info"' in line]
    placed = [e for e in info if e["message"] == "placed meeting"]
    assert [(e["meeting"], e["frontend"], e["backend"]) for e in placed] == [
        ("secret-room", "fe", sim_node["api_url"])
    ]
    # ... batched with the access lines, in order: before the line of the create it came from.
    order = [e.get("path", e["message"]) for e in info]
    assert order.index("placed meeting") < order.index("/bbb/fe/bigbluebutton/api/create")
    for secret in (API_SECRET, FRONTEND_SECRET, sim_node["secret"], token, *PASSWORDS, *checksums):
        assert secret not in logs  # ...but never a secret, a password or a checksum
    assert "checksum=" not in logs


def raw_exchange(port: int, data: bytes) -> tuple[int, str, bytes]:
    """Send bytes as they are; the answer's status, content type and body (the server closes
    the connection: after a request it cannot parse, or as the request asks)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers.get("content-type", ""), body


def test_hostile_requests_get_answers_in_kind_and_one_log_line(pg_admin_dsn: str) -> None:
    name = f"b3scale_hostile_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    token = sign_token(API_SECRET, "admin", "b3scale:admin", 600)
    checksum = "c0ffee" * 10
    huge_token = "eyJ" + "A" * 70_000
    with Serve(
        B3SCALE_DB_URL=dsn_for(pg_admin_dsn, name),
        B3SCALE_API_JWT_SECRET=API_SECRET,
        B3SCALE_LOG_LEVEL="debug",
        B3SCALE_LOG_FORMAT="structured",
    ) as serve:
        serve.wait_healthy()
        long_query = "meta_x=" + "y" * 70_000 + f"&checksum={checksum}"
        status, kind, body = raw_exchange(
            serve.port,
            f"GET /bbb/fe/bigbluebutton/api/create?{long_query} HTTP/1.1\r\n\r\n".encode(),
        )
        assert (status, kind) == (400, "text/xml;charset=utf-8")
        assert ET.fromstring(body).findtext("messageKey") == "badRequest"
        status, kind, body = raw_exchange(
            serve.port,
            f"GET /api/v1/frontends HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {huge_token}"
            "\r\n\r\n".encode(),
        )
        assert (status, kind) == (400, "application/json")
        assert json.loads(body)["error"] == "bad_request"
        status, kind, body = raw_exchange(serve.port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        assert status == 400 and ET.fromstring(body).findtext("returncode") == "FAILED"
        status, kind, body = raw_exchange(
            serve.port,
            b"POST /api/v1/frontends HTTP/1.1\r\nHost: b\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 9\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n".encode()
            + b"\x1f\x8bnotgzip",
        )
        assert (status, json.loads(body)["error"]) == (400, "invalid_json")
        status, _, body = raw_exchange(
            serve.port,
            b"GET /bbb/fz-a%00/bigbluebutton/api/getMeetings HTTP/1.1\r\nHost: b\r\n"
            b"Connection: close\r\n\r\n",
        )
        assert (status, ET.fromstring(body).findtext("messageKey")) == (200, "unknownFrontend")
        assert serve.stop() == 0
        logs = serve.output
    asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE {name} WITH (FORCE)"))
    entries = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert len(entries) == len(logs.splitlines())  # one JSON object per line, nothing else
    assert not [e for e in entries if "error" in e and "Traceback" in str(e["error"])]
    assert "Traceback" not in logs
    refused = [e for e in entries if e["message"] == "unparsable HTTP request refused"]
    assert [e["level"] for e in refused] == ["warning"] * 3
    for secret in (checksum, huge_token[:100], token, API_SECRET):
        assert secret not in logs


def test_a_client_cannot_forge_plain_log_lines(pg_admin_dsn: str) -> None:
    name = f"b3scale_plain_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    with Serve(B3SCALE_DB_URL=dsn_for(pg_admin_dsn, name), B3SCALE_LOG_FORMAT="plain") as serve:
        serve.wait_healthy()
        forged = "%0a2026-01-01T00:00:00.000Z%20INFO%20%20b3scale:%20forged%00"
        status, _, body = raw_exchange(
            serve.port,
            f"GET /bbb/fe{forged}/bigbluebutton/api/getMeetings HTTP/1.1\r\nHost: b\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        assert (status, ET.fromstring(body).findtext("messageKey")) == (200, "unknownFrontend")
        assert serve.stop() == 0
        logs = serve.output
    asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE {name} WITH (FORCE)"))
    assert "\x00" not in logs
    assert not [line for line in logs.splitlines() if line.startswith("2026-01-01")]
    [access] = [line for line in logs.splitlines() if "forged" in line]
    assert "path=/bbb/fe\\n2026-01-01" in access and "\\x00" in access

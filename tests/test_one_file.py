"""The one-file build as an operator deploys it: ``./build.sh pyz`` copied into an empty folder
and run with nothing from the checkout on the module path. It applies its schema to an empty
database, its simulator answers as a node, its ctl registers a backend and a frontend, a
meeting is created and joined through its gateway, and the dashboard's files, the API
description and /metrics come out of the file itself."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from b3scale.bbb.request import Request
from tests.support.process import ROOT, Serve, env_without_checkout, http_status
from tests.support.services import free_port

SECRET = "one-file-api-secret-0123456789-abcdefgh"


class ServeOneFile(Serve):
    """``serve`` of the one-file build."""

    def __init__(self, binary: Path, port: int | None = None, **env: str) -> None:
        self.command = (str(binary),)
        super().__init__(port, **env)

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return env_without_checkout(**env)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The built file, alone in a folder, and the folder shiv may unpack into."""
    built = tmp_path_factory.mktemp("build") / "b3scale"
    done = subprocess.run(
        ["bash", str(ROOT / "build.sh"), "pyz", str(built)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    server = tmp_path_factory.mktemp("server")
    shutil.copy(built, server / "b3scale")
    yield server / "b3scale", server / "shiv-cache"


def run(deployed: tuple[Path, Path], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    binary, cache = deployed
    return subprocess.run(
        [str(binary), *args],
        env=env_without_checkout(SHIV_ROOT=str(cache), **env),
        cwd=binary.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET without following redirects."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_the_one_file_runs_a_cluster_on_its_own(
    deployed: tuple[Path, Path], empty_db_url: str
) -> None:
    binary, cache = deployed
    node_port = free_port()
    node = subprocess.Popen(
        [str(binary), "sim", "-n", "1", "--base-port", str(node_port), "--secret-prefix", "ns-"],
        env=env_without_checkout(SHIV_ROOT=str(cache)),
        cwd=binary.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    node_api = f"http://127.0.0.1:{node_port}/bigbluebutton/api/"
    try:
        deadline = time.monotonic() + 60
        while http_status(node_api) != 200:
            assert node.poll() is None and time.monotonic() < deadline, "no simulator"
            time.sleep(0.2)
        with ServeOneFile(
            binary,
            B3SCALE_DB_URL=empty_db_url,
            B3SCALE_API_JWT_SECRET=SECRET,
            SHIV_ROOT=str(cache),
        ) as serve:
            serve.wait_healthy(timeout=60)
            ctl = {"B3SCALE_API_URL": serve.url, "B3SCALE_API_JWT_SECRET": SECRET}
            added = run(deployed, "ctl", "set", "backend", "-s", "ns-1", node_api, **ctl)
            assert added.returncode == 0, added.stderr
            added = run(deployed, "ctl", "set", "frontend", "-s", "portal-secret", "portal", **ctl)
            assert added.returncode == 0, added.stderr
            deadline = time.monotonic() + 30
            while True:
                shown = run(deployed, "ctl", "--json", "show", "backends", **ctl)
                assert shown.returncode == 0, shown.stderr
                if all(b["healthy"] for b in json.loads(shown.stdout)):
                    break
                assert time.monotonic() < deadline, shown.stdout
                time.sleep(0.3)

            def bbb(call: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
                query = Request.build(call, params).signed_query("portal-secret")
                return get(serve.url, f"/bbb/portal/bigbluebutton/api/{call}?{query}")

            status, _, body = bbb("create", {"meetingID": "lecture", "name": "Lecture"})
            assert status == 200 and b"<returncode>SUCCESS</returncode>" in body, body
            status, headers, _ = bbb(
                "join", {"meetingID": "lecture", "fullName": "Ada", "role": "moderator"}
            )
            assert status == 302 and headers["location"].startswith(node_api + "join?")

            # What ships inside the file: the dashboard's page and its assets, the API
            # description, the metrics.
            status, _, page = get(serve.url, "/ui/")
            assert status == 200 and b"/ui/assets/ui.js" in page
            for asset in ("/ui/assets/ui.js", "/ui/assets/ui.css"):
                status, _, content = get(serve.url, asset)
                assert status == 200 and len(content) > 100, asset
            status, _, described = get(serve.url, "/api/v1/openapi.json")
            assert status == 200 and json.loads(described)["openapi"].startswith("3.")
            status, _, metrics = get(serve.url, "/metrics")
            assert status == 200 and b"b3scale_http_requests_total{" in metrics
            assert serve.stop() == 0
        # Nothing of the checkout was used: the file unpacked its own packages.
        assert list(cache.glob("b3scale*/site-packages/b3scale/store/migrations/0001_*.sql"))
    finally:
        node.terminate()
        node.wait(timeout=10)

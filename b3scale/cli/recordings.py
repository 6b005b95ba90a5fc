"""``b3scale recordings push <recordID>``: a node's published recording to the cluster.

Run on the BBB server (BBB's post-publish hook: see contrib/bbb/). Every format of the
recording under the published folder is pushed file by file; a file the cluster has already
(same SHA-256) is skipped, an interrupted upload is resumed where it stopped, and the
format's metadata.xml goes last, so the recording is listed only once its files are there.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from b3scale import __version__
from b3scale.cli.common import EXIT_CONFIG, EXIT_FAILURE, fail, startup_config
from b3scale.store.files import RECORD_ID

#: One request carries at most this much of a file (an interrupted push loses at most this).
CHUNK = 8 * 1024 * 1024
TIMEOUT = 120


class PushError(Exception):
    """The cluster refused or did not answer; one line for the operator."""


class Pusher:
    def __init__(self, api_url: str, token: str) -> None:
        self.api = api_url.rstrip("/") + "/api/v1"
        self.token = token
        self.sent = 0
        self.skipped = 0

    def request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        query: dict[str, str | int] | None = None,
        content_type: str = "application/octet-stream",
    ) -> tuple[int, Any]:
        url = self.api + urllib.parse.quote(path)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", f"b3scale-recordings/{__version__}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"null")
            except ValueError:
                body = None
            return exc.code, body
        except (urllib.error.URLError, OSError) as exc:
            raise PushError(f"cannot reach the API at {self.api}: {exc}") from None

    def push_file(self, record_id: str, fmt: str, local: Path, relative: str) -> None:
        address = f"/recording-files/{record_id}/{fmt}/{relative}"
        digest = hashlib.sha256()
        with local.open("rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
        sha256, size = digest.hexdigest(), local.stat().st_size
        status, state = self.request("GET", address)
        self._check(status, state, relative)
        if state.get("sha256") == sha256:
            self.skipped += 1
            return
        partial = state.get("partial") or 0
        offset = partial if 0 < partial < size else 0
        for _attempt in range(3):
            status, answer = self._send(address, local, offset, size, sha256)
            if status == 201:
                self.sent += 1
                return
            if status == 409:  # the server's upload differs from ours: start over
                offset = 0
                continue
            self._check(status, answer, relative)
        raise PushError(f"{relative}: the cluster refused the file three times")

    def _send(
        self, address: str, local: Path, offset: int, size: int, sha256: str
    ) -> tuple[int, Any]:
        with local.open("rb") as source:
            source.seek(offset)
            while True:
                chunk = source.read(CHUNK)
                last = offset + len(chunk) >= size
                query: dict[str, str | int] = {"offset": offset}
                if last:
                    query.update(total=size, sha256=sha256)
                status, answer = self.request("PUT", address, chunk, query)
                if last or status != 200:
                    return status, answer
                offset += len(chunk)

    @staticmethod
    def _check(status: int, answer: Any, what: str) -> None:
        if status < 400:
            return
        message = answer.get("message") if isinstance(answer, dict) else None
        raise PushError(f"{what}: HTTP {status}: {message or 'refused'}")

    def push_format(self, record_id: str, fmt: str, folder: Path) -> None:
        metadata = folder / "metadata.xml"
        if not metadata.is_file():
            raise PushError(f"{folder} has no metadata.xml: not a published recording")
        for local in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = local.relative_to(folder).as_posix()
            if relative != "metadata.xml":
                self.push_file(record_id, fmt, local, relative)
        status, answer = self.request(
            "POST", "/recordings-import", metadata.read_bytes(), content_type="application/xml"
        )
        self._check(status, answer, f"{fmt} metadata.xml")


@click.group()
def recordings() -> None:
    """Recordings of this BBB node, to the cluster."""


@recordings.command()
@click.argument("record_id")
@click.option(
    "--published-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/var/bigbluebutton/published"),
    show_default=True,
    help="BBB's folder of published recordings (one subfolder per format).",
)
def push(record_id: str, published_dir: Path) -> None:
    """Upload a published recording to the cluster (B3SCALE_API_URL, with the node's
    B3SCALE_API_ACCESS_TOKEN): resumable, and pushing it twice changes nothing."""
    config = startup_config()
    if not config.api_access_token:
        fail("recordings push needs B3SCALE_API_ACCESS_TOKEN (the node's token)", EXIT_CONFIG)
    if not RECORD_ID.match(record_id):
        fail(f"{record_id!r} is not a BBB record ID", EXIT_CONFIG)
    formats = (
        sorted(d.name for d in published_dir.glob("*") if (d / record_id).is_dir())
        if published_dir.is_dir()
        else []
    )
    if not formats:
        fail(f"no published recording {record_id} under {published_dir}", EXIT_CONFIG)
    assert config.api_access_token is not None
    pusher = Pusher(config.api_url, config.api_access_token)
    try:
        for fmt in formats:
            pusher.push_format(record_id, fmt, published_dir / fmt / record_id)
    except PushError as exc:
        fail(f"push of {record_id} failed: {exc}", EXIT_FAILURE)
    click.echo(
        f"pushed {record_id} ({', '.join(formats)}): {pusher.sent} files sent, "
        f"{pusher.skipped} already there"
    )

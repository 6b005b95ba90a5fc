"""Recordings pushed from a node to a real ``serve`` (``b3scale recordings push``), listed and
played after their node is gone."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp

from b3scale.bbb.request import Request
from b3scale.cluster import meeting_ids
from b3scale.sim.node import SimNode
from b3scale.sim.state import Recording, internal_meeting_id
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from tests.support.process import Serve, run_b3scale
from tests.support.services import free_port

SECRET = "recordings-api-secret-0123456789-abcdef"
ADMIN = {"Authorization": f"Bearer {sign_token(SECRET, 'admin', 'b3scale:admin', 600)}"}
NODE_TOKEN = sign_token(SECRET, "bbb-one", "b3scale:node", 600)
#: Another node's token, and one whose subject names no backend.
NODE_TWO_TOKEN = sign_token(SECRET, "bbb-two", "b3scale:node", 600)
STRANGER_TOKEN = sign_token(SECRET, "bbb-unknown", "b3scale:node", 600)


async def bbb(
    session: aiohttp.ClientSession, serve: Serve, key: str, call: str, params: dict[str, str]
) -> ET.Element:
    query = Request.build(call, params).signed_query(f"{key}-secret")
    async with session.get(f"{serve.url}/bbb/{key}/bigbluebutton/api/{call}?{query}") as resp:
        return ET.fromstring(await resp.read())


async def registered(serve: Serve, host: str, secret: str, agent_ref: str) -> str:
    """A backend registered through the API and polled healthy (ready for meetings)."""
    async with aiohttp.ClientSession(headers=ADMIN) as admin:
        body = {"bbb": {"host": host, "secret": secret}, "agent_ref": agent_ref}
        async with admin.post(f"{serve.url}/api/v1/backends", json=body) as resp:
            assert resp.status == 201
            backend_id: str = (await resp.json())["id"]
        for _ in range(200):
            async with admin.get(f"{serve.url}/api/v1/backends/{backend_id}") as resp:
                if (await resp.json())["healthy"]:
                    return backend_id
            await asyncio.sleep(0.05)
    raise AssertionError("the backend was never polled healthy")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_pushed_recording_outlives_its_node(
    db: Database, migrated_db_url: str, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    node = SimNode(secret="node-secret", published_dir=published)
    await node.start()
    store = tmp_path / "store"
    port = free_port()
    with Serve(
        port=port,
        B3SCALE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        B3SCALE_DB_URL=migrated_db_url,
        B3SCALE_API_JWT_SECRET=SECRET,
        B3SCALE_RECORDINGS_DIR=str(store),
    ) as serve:
        await asyncio.to_thread(serve.wait_healthy)
        backend_id = await registered(serve, node.api_url, node.secret, "bbb-one")
        await insert_frontend(db, "fe1", "fe1-secret")
        await insert_frontend(db, "fe2", "fe2-secret")
        async with aiohttp.ClientSession() as http:
            created = await bbb(http, serve, "fe1", "create", {"meetingID": "lecture"})
            assert created.findtext("returncode") == "SUCCESS"
        encoded = meeting_ids.encode("fe1", "lecture")
        record_id = internal_meeting_id(encoded, int(time.time() * 1000))
        node.add_recording(
            Recording(record_id, encoded, "Lecture 1", 1, 2, metadata={"gl-listed": "true"})
        )
        folder = published / "presentation" / record_id
        video = "video/webcams.webm"

        # A push broken off after 5 MiB of the video, then pushed again: it resumes.
        half = (folder / video).read_bytes()[: 5 * 1024 * 1024]
        address = f"{serve.url}/api/v1/recording-files/{record_id}/presentation/{video}"
        auth = {"Authorization": f"Bearer {NODE_TOKEN}"}
        async with (
            aiohttp.ClientSession(headers=auth) as pusher,
            pusher.put(address + "?offset=0", data=io.BytesIO(half)) as resp,
        ):
            assert resp.status == 200 and (await resp.json())["partial"] == len(half)
        env = {
            "B3SCALE_API_URL": serve.url,
            "B3SCALE_API_ACCESS_TOKEN": NODE_TOKEN,
        }
        push = await asyncio.to_thread(
            run_b3scale, "recordings", "push", record_id, "--published-dir", str(published), **env
        )
        assert push.returncode == 0, push.stderr
        assert "4 files sent, 0 already there" in push.stdout
        for name in ("index.html", "shapes.svg", "presentation/slide-1.png", video):
            stored = store / "presentation" / record_id / name
            assert sha256(stored) == sha256(folder / name), name
        assert not list(store.rglob("*.b3s-part"))
        # It resumed at 5 MiB: the video's remaining 15 MiB took one part and the last one
        # (from the start it would have taken two and the last); with the broken-off push,
        # two parts that completed no file.
        async with aiohttp.ClientSession() as http, http.get(f"{serve.url}/metrics") as resp:
            metrics = await resp.text()
        parts = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("b3scale_http_requests_total{")
            and 'method="PUT"' in line
            and "recording-files" in line
            and 'status="200"' in line
        ]
        assert parts == [2]
        again = await asyncio.to_thread(
            run_b3scale, "recordings", "push", record_id, "--published-dir", str(published), **env
        )
        assert again.returncode == 0 and "0 files sent, 4 already there" in again.stdout
        await _nodes_push_only_their_own(serve, db, node, tmp_path, record_id)

        # The node is decommissioned and deleted: its recording is still listed and plays.
        await node.close()
        async with (
            aiohttp.ClientSession(headers=ADMIN) as admin,
            admin.delete(f"{serve.url}/api/v1/backends/{backend_id}?force=true") as resp,
        ):
            assert resp.status == 200
        async with aiohttp.ClientSession() as http:
            for params in ({"meetingID": "lecture"}, {"recordID": record_id}):
                found = await bbb(http, serve, "fe1", "getRecordings", params)
                recordings = found.findall("recordings/recording")
                assert [r.findtext("recordID") for r in recordings] == [record_id], params
                recording = recordings[0]
                assert recording.findtext("meetingID") == "lecture"
                assert recording.findtext("metadata/gl-listed") == "true"
                url = recording.findtext("playback/format/url") or ""
                assert url.startswith(serve.url + "/playback/presentation/2.3/")
            base = f"{serve.url}/presentation/{record_id}"
            async with http.get(f"{base}/{video}") as resp:
                assert resp.status == 200
                assert hashlib.sha256(await resp.read()).hexdigest() == sha256(folder / video)
            async with http.get(f"{base}/../../etc/passwd") as resp:
                assert resp.status == 404

            # Text tracks of an imported recording: kept by the cluster, served beside it.
            query = Request.build(
                "putRecordingTextTrack",
                {"recordID": record_id, "kind": "subtitles", "lang": "de-DE", "label": "Deutsch"},
            ).signed_query("fe1-secret")
            form = aiohttp.FormData()
            form.add_field("file", b"WEBVTT\n\n00:00.000 --> 00:01.000\nHallo\n", filename="de.vtt")
            async with http.post(
                f"{serve.url}/bbb/fe1/bigbluebutton/api/putRecordingTextTrack?{query}", data=form
            ) as resp:
                assert (await resp.json())["response"]["messageKey"] == "upload_text_track_success"
            query = Request.build("getRecordingTextTracks", {"recordID": record_id}).signed_query(
                "fe1-secret"
            )
            async with http.get(
                f"{serve.url}/bbb/fe1/bigbluebutton/api/getRecordingTextTracks?{query}"
            ) as resp:
                [track] = (await resp.json())["response"]["tracks"]
            assert (track["lang"], track["label"], track["kind"]) == (
                "de-DE",
                "Deutsch",
                "subtitles",
            )
            async with http.get(track["href"]) as resp:
                assert resp.status == 200 and b"Hallo" in await resp.read()

            # Another tenant can neither see nor change it.
            other = await bbb(http, serve, "fe2", "getRecordings", {"recordID": record_id})
            assert other.findtext("messageKey") == "noRecordings"
            for call, extra in (
                ("publishRecordings", {"publish": "false"}),
                ("deleteRecordings", {}),
            ):
                answer = await bbb(http, serve, "fe2", call, {"recordID": record_id, **extra})
                assert answer.findtext("messageKey") == "notFound", call
            assert (store / "presentation" / record_id / video).is_file()

            # Its own tenant unpublishes (the files stop answering), republishes, deletes.
            answer = await bbb(
                http, serve, "fe1", "publishRecordings", {"recordID": record_id, "publish": "false"}
            )
            assert answer.findtext("published") == "false"
            async with http.get(f"{base}/{video}") as resp:
                assert resp.status == 404
            hidden = await bbb(http, serve, "fe1", "getRecordings", {"meetingID": "lecture"})
            assert hidden.findtext("recordings/recording/state") == "unpublished"
            await bbb(
                http, serve, "fe1", "publishRecordings", {"recordID": record_id, "publish": "true"}
            )
            async with http.get(f"{base}/index.html") as resp:
                assert resp.status == 200
            deleted = await bbb(http, serve, "fe1", "deleteRecordings", {"recordID": record_id})
            assert deleted.findtext("deleted") == "true"
            gone = await bbb(http, serve, "fe1", "getRecordings", {"recordID": record_id})
            assert gone.findtext("messageKey") == "noRecordings"
        assert not (store / "presentation" / record_id).exists()
        assert urllib.parse.quote(NODE_TOKEN) not in serve.output


async def _nodes_push_only_their_own(
    serve: Serve, db: Database, node: SimNode, tmp_path: Path, lecture: str
) -> None:
    """A node token pushes only for the frontends its node hosted, never over another node's
    recording, and not at all when it is bound to no backend; an admin imports anything."""
    published = tmp_path / "published"
    foreign = internal_meeting_id(meeting_ids.encode("fe2", "exam"), int(time.time() * 1000))
    node.add_recording(Recording(foreign, meeting_ids.encode("fe2", "exam"), "Exam", 1, 2))
    imports = f"{serve.url}/api/v1/recordings-import"

    def metadata(record_id: str) -> bytes:
        return (published / "presentation" / record_id / "metadata.xml").read_bytes()

    async def post(token: str, record_id: str) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.post(imports, data=metadata(record_id)) as resp,
        ):
            answer = await resp.json()
            return resp.status, answer["message"] if resp.status >= 400 else ""

    # Node one never hosted a meeting of fe2: it cannot plant a recording in fe2's list.
    status, message = await post(NODE_TOKEN, foreign)
    assert status == 403 and "never hosted" in message
    # A node token bound to no backend pushes no file and imports nothing.
    headers = {"Authorization": f"Bearer {STRANGER_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as stranger:
        address = f"{serve.url}/api/v1/recording-files/{foreign}/presentation/index.html"
        async with stranger.put(address + "?offset=0", data=b"<html>") as resp:
            assert resp.status == 403
        async with stranger.get(address) as resp:
            assert resp.status == 403
    assert (await post(STRANGER_TOKEN, lecture))[0] == 403

    # Node two hosts a meeting of fe1 now, but cannot replace the lecture node one pushed.
    second = SimNode(secret="node-two-secret")
    await second.start()
    try:
        await registered(serve, second.api_url, second.secret, "bbb-two")
        async with aiohttp.ClientSession() as http:
            seminar = await bbb(http, serve, "fe1", "create", {"meetingID": "seminar"})
        assert seminar.findtext("returncode") == "SUCCESS"
        assert second.meetings, "the seminar went to the empty node two"
        status, message = await post(NODE_TWO_TOKEN, lecture)
        assert status == 409 and "another node" in message
        # Nor replace its files (the video would otherwise be anyone's to swap).
        video = f"{serve.url}/api/v1/recording-files/{lecture}/presentation/video/webcams.webm"
        stored = tmp_path / "store" / "presentation" / lecture / "video" / "webcams.webm"
        before = stored.read_bytes()
        fake = b"not the lecture"
        headers = {"Authorization": f"Bearer {NODE_TWO_TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as intruder:
            async with intruder.put(video + "?offset=0", data=fake) as resp:
                assert resp.status == 403
            query = f"?offset=0&total={len(fake)}&sha256={hashlib.sha256(fake).hexdigest()}"
            async with intruder.put(video + query, data=fake) as resp:
                assert resp.status == 403
            async with intruder.get(video) as resp:
                assert resp.status == 403
        assert stored.read_bytes() == before

        # Before any import, the node that starts pushing a record ID keeps it: node two
        # pushes its seminar's page; node one can neither write, read nor import under it.
        seminar_id = meeting_ids.encode("fe1", "seminar")
        squat = internal_meeting_id(seminar_id, int(time.time() * 1000))
        page = f"{serve.url}/api/v1/recording-files/{squat}/presentation/index.html"
        async with (
            aiohttp.ClientSession(headers=headers) as owner,
            owner.put(page + "?offset=0", data=b"<html>") as resp,
        ):
            assert resp.status == 200
        node.add_recording(Recording(squat, seminar_id, "Seminar", 1, 2))  # node one's metadata
        intruder_headers = {"Authorization": f"Bearer {NODE_TOKEN}"}
        async with aiohttp.ClientSession(headers=intruder_headers) as intruder:
            async with intruder.put(page + "?offset=0", data=b"<html>other") as resp:
                assert resp.status == 403
            async with intruder.get(page) as resp:
                assert resp.status == 403
        status, message = await post(NODE_TOKEN, squat)
        assert status == 409 and "another node" in message
        async with aiohttp.ClientSession(headers=headers) as owner, owner.get(page) as resp:
            assert resp.status == 200 and (await resp.json())["partial"] == len(b"<html>")
        # The lecture is still node one's.
        rows = await db.fetch_all(
            "SELECT backend_host FROM recordings WHERE record_id = %s", (lecture,)
        )
        assert [r["backend_host"] for r in rows] == [node.api_url]
    finally:
        await second.close()
    # An admin imports any frontend's recording; no node changes its files after.
    status, _ = await post(ADMIN["Authorization"].removeprefix("Bearer "), foreign)
    assert status == 201
    page = f"{serve.url}/api/v1/recording-files/{foreign}/presentation/index.html"
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {NODE_TOKEN}"}) as node_one,
        node_one.put(page + "?offset=0", data=b"<html>") as resp,
    ):
        assert resp.status == 403

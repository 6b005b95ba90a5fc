"""Protected recordings in a real browser (Debian's headless Chromium): the signed link sets
the recording's cookie and the player page loads; the files answer 403 without it, and the
cookie of one recording opens no other."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
from selenium import webdriver
from selenium.webdriver.common.by import By

from b3scale.bbb.request import Request
from b3scale.cluster import meeting_ids
from b3scale.sim.published import write_published
from b3scale.sim.state import Recording, internal_meeting_id
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from tests.support.process import Serve, run_b3scale
from tests.support.services import free_port

SECRET = "protected-api-secret-0123456789-abcdef"


async def recording_url(serve: Serve, key: str, record_id: str) -> str:
    query = Request.build("getRecordings", {"recordID": record_id}).signed_query(f"{key}-secret")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{serve.url}/bbb/{key}/bigbluebutton/api/getRecordings?{query}") as resp,
    ):
        root = ET.fromstring(await resp.read())
    assert root.findtext("recordings/recording/protected") == "true"
    return root.findtext("recordings/recording/playback/format/url") or ""


async def status_of(url: str, cookies: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession(cookies=cookies) as http, http.get(url) as resp:
        return resp.status


async def test_a_protected_recording_plays_only_through_its_link(
    db: Database, migrated_db_url: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    published, store = tmp_path / "published", tmp_path / "store"
    await insert_frontend(
        db, "fe1", "fe1-secret", {"recordings": {"visibility_override": "protected"}}
    )
    await insert_frontend(
        db, "fe2", "fe2-secret", {"recordings": {"visibility_override": "protected"}}
    )
    record_ids = {}
    for key in ("fe1", "fe2"):
        encoded = meeting_ids.encode(key, "lecture")
        record_id = internal_meeting_id(encoded, int(time.time() * 1000))
        recording = Recording(record_id, encoded, f"Lecture of {key}", 1, 2)
        write_published(recording, "http://node.invalid", published, ("video",))
        record_ids[key] = record_id
    port = free_port()
    with Serve(
        port=port,
        B3SCALE_DB_URL=migrated_db_url,
        B3SCALE_API_JWT_SECRET=SECRET,
        B3SCALE_RECORDINGS_DIR=str(store),
        B3SCALE_PUBLIC_URL=f"http://127.0.0.1:{port}",
    ) as serve:
        await asyncio.to_thread(serve.wait_healthy)
        # Pushed with an admin's token: a node's pushes only what its backend hosted, and no
        # node hosted these (the node's rules are tested in test_imported_recordings).
        token = sign_token(SECRET, "operator", "b3scale:admin", 600)
        for record_id in record_ids.values():
            pushed = await asyncio.to_thread(
                run_b3scale, "recordings", "push", record_id, "--published-dir", str(published),
                B3SCALE_API_URL=serve.url, B3SCALE_API_ACCESS_TOKEN=token,
            )  # fmt: skip
            assert pushed.returncode == 0, pushed.stderr
        mine, theirs = record_ids["fe1"], record_ids["fe2"]
        link = await recording_url(serve, "fe1", mine)
        assert link.startswith(f"{serve.url}/b3s/recording/")
        page = f"{serve.url}/playback/video/{mine}/"
        other_page = f"{serve.url}/playback/video/{theirs}/"
        # Without the link's cookie the files answer 403, whoever asks.
        for url in (page, page + "video-0.m4v", f"{serve.url}/video/{mine}/index.html"):
            assert await status_of(url) == 403, url

        def play() -> tuple[str, str, str, bool]:
            browser.get(link)
            title = browser.find_element(By.ID, "title").text
            loaded = browser.execute_script(
                "const v = document.querySelector('video');return fetch(v.src).then(r => r.status);"
            )
            browser.save_screenshot(str(tmp_path / "protected-recording-1280x800.png"))
            url_after = browser.current_url
            browser.get(other_page)  # the cookie of one recording opens no other
            other = browser.find_element(By.TAG_NAME, "h1").text
            return title, url_after, other, loaded == 200

        title, landed, other, video_ok = await asyncio.to_thread(play)
        assert title == "Lecture of fe1" and landed == page and video_ok
        assert other == "This recording is protected"
        assert (tmp_path / "protected-recording-1280x800.png").stat().st_size > 1000
        # A forged or altered link is refused; so is fe1's link for fe2's recording.
        assert await status_of(link[:-3] + "abc") == 403
        assert await status_of(f"{serve.url}/b3s/recording/not-a-token") == 403
        theirs_link = await recording_url(serve, "fe2", theirs)
        assert await status_of(theirs_link.replace(theirs, mine)) == 403
        # nginx's auth_request asks the same question.
        for uri, expected in ((f"/video/{mine}/index.html", 403), ("/video/x/y", 404)):
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"{serve.url}/b3s/recording-auth", headers={"X-Original-URI": uri}
                ) as resp,
            ):
                assert resp.status == expected, uri
        # A frontend with recordings is deleted only when that is said, and they go with it.
        admin = {"Authorization": f"Bearer {sign_token(SECRET, 'admin', 'b3scale:admin', 60)}"}
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.get(f"{serve.url}/api/v1/frontends?key=fe2") as resp:
                [fe2] = await resp.json()
            target = f"{serve.url}/api/v1/frontends/{fe2['id']}"
            async with http.delete(target) as resp:
                assert resp.status == 409 and (await resp.json())["error"] == "has_recordings"
            assert (store / "video" / theirs).is_dir()
            async with http.delete(target + "?with_recordings=true") as resp:
                assert resp.status == 200
        assert not (store / "video" / theirs).exists() and (store / "video" / mine).is_dir()

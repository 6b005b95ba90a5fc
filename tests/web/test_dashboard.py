"""The operator's dashboard in Debian's headless Chromium, against a real ``serve`` with three
simulated nodes and two frontends; and ``b3scale ctl top`` and ``ctl dashboard``."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from selenium import webdriver
from selenium.webdriver.common.by import By

from b3scale.bbb.request import Request
from b3scale.sim.node import SimNode
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from tests.support.process import Serve, run_b3scale

SECRET = "dashboard-api-secret-0123456789-abcdef"
ADMIN_TOKEN = sign_token(SECRET, "operator", "b3scale:admin", 600)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def api(serve: Serve, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{serve.url}/api/v1{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {ADMIN_TOKEN}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)


async def test_the_dashboard_shows_the_cluster_live_and_drains_a_backend(
    db: Database,
    migrated_db_url: str,
    fleet: list[SimNode],
    browser: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    await insert_frontend(db, "greenlight", "greenlight-secret")
    await insert_frontend(db, "moodle", "moodle-secret")
    with Serve(B3SCALE_DB_URL=migrated_db_url, B3SCALE_API_JWT_SECRET=SECRET) as serve:
        await asyncio.to_thread(serve.wait_healthy)
        for node in fleet:
            api(serve, "POST", "/backends", {"bbb": {"host": node.api_url, "secret": node.secret}})
        hosts = [node.api_url for node in fleet]

        # Without the cookie: the login form only, and no data.
        status, page = await asyncio.to_thread(get, f"{serve.url}/ui/")
        assert status == 200 and b"Admin token" in page and b"127.0.0.1" not in page
        assert (await asyncio.to_thread(get, f"{serve.url}/ui/api/overview"))[0] == 401

        def log_in_and_look() -> dict[str, str]:
            browser.get(f"{serve.url}/ui/")
            browser.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
            browser.find_element(By.CSS_SELECTOR, "#login-form button").click()

            def counts() -> dict[str, str] | None:
                rows = browser.find_elements(By.CSS_SELECTOR, "#backends tbody tr")
                found = {
                    r.get_attribute("data-host") or "": r.find_element(
                        By.CSS_SELECTOR, "td.meetings"
                    ).text
                    for r in rows
                }
                return found if set(found) == set(hosts) else None

            shown: dict[str, str] = wait_for(counts, 10, "the three backends on the page")
            return shown

        assert set((await asyncio.to_thread(log_in_and_look)).values()) == {"0"}
        cookie = browser.get_cookie("b3s_ui")
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # A meeting created through the gateway appears without a reload.
        query = Request.build("create", {"meetingID": "live-lecture", "name": "L"}).signed_query(
            "moodle-secret"
        )
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{serve.url}/bbb/moodle/bigbluebutton/api/create?{query}") as resp,
        ):
            assert b"SUCCESS" in await resp.read()

        def meeting_shown() -> bool:
            cells = browser.find_elements(By.CSS_SELECTOR, "#meetings tbody td")
            return any(c.text == "live-lecture" for c in cells)

        started = time.monotonic()
        await asyncio.to_thread(wait_for, meeting_shown, 5, "the new meeting on the page")
        assert time.monotonic() - started < 5

        # Disabling a backend from the page (after a confirmation) changes it in the API.
        target = hosts[0]

        def disable() -> None:
            row = browser.find_element(By.CSS_SELECTOR, f'#backends tr[data-host="{target}"]')
            row.find_element(By.TAG_NAME, "button").click()
            alert = browser.switch_to.alert
            assert "Disable" in alert.text and target in alert.text
            alert.accept()

        await asyncio.to_thread(disable)

        def stopped() -> bool:
            return any(
                b["bbb"]["host"] == target and b["admin_state"] == "stopped"
                for b in api(serve, "GET", "/backends")
            )

        await asyncio.to_thread(wait_for, stopped, 5, "the backend disabled in the API")
        shot = tmp_path / "dashboard-1280x800.png"
        await asyncio.to_thread(browser.save_screenshot, str(shot))
        assert shot.stat().st_size > 10_000

        # On a phone (390×844 CSS pixels, touch): the page is as wide as the screen (wide
        # tables scroll inside their own box) and every backend is there to act on.
        def on_a_phone() -> tuple[int, int, int]:
            browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
            )
            browser.get(f"{serve.url}/ui/")

            def rows() -> list[Any]:
                return list(browser.find_elements(By.CSS_SELECTOR, "#backends tbody tr"))

            shown = len(wait_for(rows, 10, "the backends on a phone"))
            for row in rows():  # named by host (the API URL on hover)
                first = row.find_element(By.TAG_NAME, "td")
                url = row.get_attribute("data-host") or ""
                assert first.get_attribute("title") == url
                assert first.text == url.removeprefix("http://").removesuffix("/bigbluebutton/api/")
            page, screen = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];"
            )
            browser.save_screenshot(str(tmp_path / "dashboard-390x844.png"))
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            return shown, int(page), int(screen)

        shown, page_width, screen_width = await asyncio.to_thread(on_a_phone)
        assert shown == 3 and screen_width == 390
        assert page_width <= screen_width, "the page is wider than the phone"
        assert (tmp_path / "dashboard-390x844.png").stat().st_size > 10_000

        # The change needs the page's header: a cross-site form cannot make it.
        other_id = api(serve, "GET", "/backends")[1]["id"]
        forged = await asyncio.to_thread(
            get_post,
            f"{serve.url}/ui/api/backends/{other_id}/state",
            {"Cookie": f"b3s_ui={cookie['value']}", "Content-Type": "application/json"},
        )
        assert forged == 403

        # ctl top and ctl dashboard, as an operator runs them.
        env = {"B3SCALE_API_URL": serve.url, "B3SCALE_API_JWT_SECRET": SECRET}
        top = await asyncio.to_thread(run_b3scale, "ctl", "top", "--once", **env)
        assert top.returncode == 0 and all(h in top.stdout for h in hosts), top.stderr
        assert "3 backends" in top.stdout and "moodle" in top.stdout
        link = await asyncio.to_thread(run_b3scale, "ctl", "dashboard", **env)
        assert link.returncode == 0 and "/ui/#login=" in link.stdout

        def follow_link() -> bool:
            browser.delete_all_cookies()
            browser.get("about:blank")  # a fresh load, not a jump within the open page
            browser.get(link.stdout.strip())
            rows = lambda: browser.find_elements(By.CSS_SELECTOR, "#backends tbody tr")  # noqa: E731
            return bool(wait_for(rows, 10, "the dashboard after the link"))

        assert await asyncio.to_thread(follow_link)
        assert "#login=" not in browser.current_url
        assert link.stdout.split("#login=")[1].strip() not in serve.output


def get_post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=b'{"admin_state": "ready"}', headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code

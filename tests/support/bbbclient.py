"""A BBB API client as a frontend (Greenlight, Moodle, ...) talks to b3scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import IO

from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from b3scale.bbb.request import Request


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    location: str | None

    def text(self, path: str) -> str:
        return ET.fromstring(self.body).findtext(path) or ""

    @property
    def returncode(self) -> str:
        return self.text("returncode")

    @property
    def message_key(self) -> str:
        return self.text("messageKey")


@dataclass
class FrontendClient:
    client: TestClient[web.Request, web.Application]
    key: str
    secret: str

    def path(self, call: str, params: dict[str, str] | None = None) -> str:
        query = Request.build(call, params or {}).signed_query(self.secret)
        return f"/bbb/{self.key}/bigbluebutton/api/{call}?{query}"

    async def call(
        self,
        call: str,
        params: dict[str, str] | None = None,
        *,
        method: str = "GET",
        body: bytes | IO[bytes] | None = None,
        content_type: str | None = None,
    ) -> Answer:
        headers = {"Content-Type": content_type} if content_type else {}
        # encoded=True: send the query bytes as signed (yarl would turn %2C into ",")
        base = str(self.client.make_url("/")).rstrip("/")
        url = URL(base + self.path(call, params), encoded=True)
        async with self.client.session.request(
            method, url, data=body, headers=headers, allow_redirects=False
        ) as resp:
            return Answer(
                resp.status,
                await resp.read(),
                resp.headers.get("Content-Type", ""),
                resp.headers.get("Location"),
            )

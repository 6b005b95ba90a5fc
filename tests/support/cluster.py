"""Helpers for gateway tests: backends on simulated nodes, frontends as clients."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from b3scale.cluster import meeting_ids
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.keys import CONTROLLER
from tests.support.bbbclient import FrontendClient

App = TestClient[web.Request, web.Application]


async def add_backend(
    db: Database,
    gateway: App,
    node: SimNode,
    *,
    tags: list[str] | None = None,
    admin_state: str = "ready",
) -> Backend:
    backend = await backend_store.insert_backend(
        db,
        node.api_url,
        node.secret,
        settings={"tags": tags} if tags else None,
        admin_state=admin_state,
    )
    assert await gateway.app[CONTROLLER].poll(backend)
    return backend


async def frontend(db: Database, gateway: App, key: str, **settings: object) -> FrontendClient:
    await insert_frontend(db, key, f"{key}-secret", dict(settings))
    return FrontendClient(gateway, key, f"{key}-secret")


def holder(fleet: list[SimNode], frontend_key: str, meeting_id: str) -> SimNode:
    encoded = meeting_ids.encode(frontend_key, meeting_id)
    [node] = [n for n in fleet if encoded in n.meetings]
    return node

"""/metrics: parses as Prometheus text, agrees with the database, leaks nothing."""

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from b3scale.cluster import meeting_ids
from b3scale.sim.node import SimNode
from b3scale.store import backends as backend_store
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.keys import CONTROLLER
from tests.support.bbbclient import FrontendClient
from tests.web.test_gateway import App

DASHBOARD = (Path(__file__).resolve().parents[2] / "contrib" / "grafana-dashboard.json").read_text()


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [
        v for got, v in found.get(name, []) if all(got.get(k) == x for k, x in labels.items())
    ]
    assert len(matches) == 1, (name, labels, found.get(name))
    return matches[0]


async def test_metrics_after_traffic(db: Database, gateway: App, fleet: list[SimNode]) -> None:
    for node in fleet:
        backend = await backend_store.insert_backend(db, node.api_url, node.secret)
        await gateway.app[CONTROLLER].poll(backend)
    await insert_frontend(db, "fe-a", "secret-a")
    await insert_frontend(db, "fe-b", "secret-b")
    a, b = FrontendClient(gateway, "fe-a", "secret-a"), FrontendClient(gateway, "fe-b", "secret-b")
    ids = []
    for i in range(4):
        await a.call("create", {"meetingID": f"alpha-{i}", "name": "A", "moderatorPW": "pw-mod"})
        ids.append(f"alpha-{i}")
    for i in range(2):
        await b.call("create", {"meetingID": f"beta-{i}", "name": "B", "attendeePW": "pw-att"})
        ids.append(f"beta-{i}")
    join = await a.call("join", {"meetingID": "alpha-0", "fullName": "Z", "role": "viewer"})
    async with gateway.session.get(join.location or "", allow_redirects=True):
        pass
    for backend in await backend_store.select_backends(db):
        await gateway.app[CONTROLLER].poll(backend)
    await a.call("frobnicate")
    await b.call("getMeetingInfo", {"meetingID": "nope"})
    await FrontendClient(gateway, "fe-a", "wrong-secret").call("getMeetings")  # checksumError

    async with gateway.get("/metrics") as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        text = await resp.text()
    found = samples(text)

    assert value(found, "b3scale_frontend_meetings", frontend="fe-a") == 4
    assert value(found, "b3scale_frontend_meetings", frontend="fe-b") == 2
    assert value(found, "b3scale_frontend_attendees", frontend="fe-a") == 1
    for node in fleet:
        assert value(found, "b3scale_backend_meetings", backend=node.api_url) == len(node.meetings)
        assert value(found, "b3scale_backend_healthy", backend=node.api_url) == 1
        assert value(found, "b3scale_backend_admin_state", backend=node.api_url, state="ready") == 1
        assert value(found, "b3scale_backend_latency_seconds", backend=node.api_url) > 0
    assert sum(v for _, v in found["b3scale_backend_attendees"]) == 1
    assert value(found, "b3scale_placements_total", result="placed") == 6
    assert value(found, "b3scale_bbb_requests_total", call="create", result="SUCCESS") == 6
    assert value(found, "b3scale_bbb_requests_total", call="join", result="redirect") == 1
    assert value(found, "b3scale_bbb_requests_total", call="other", result="FAILED") == 1
    assert value(found, "b3scale_bbb_requests_total", call="getMeetingInfo", result="FAILED") == 1
    assert value(found, "b3scale_bbb_requests_total", call="getMeetings", result="FAILED") == 1
    routes = {got["route"] for got, _ in found["b3scale_http_requests_total"]}
    assert "/bbb/{key}/{tail}" in routes

    forbidden = [
        *ids,
        *(meeting_ids.encode(k, i) for k in ("fe-a", "fe-b") for i in ids),
        "secret-a",
        "secret-b",
        "pw-mod",
        "pw-att",
        "checksum",
        *(n.secret for n in fleet),
    ]
    for name, series in found.items():
        for labels, _ in series:
            for label_value in labels.values():
                assert not any(f in label_value for f in forbidden), (name, labels)


async def test_the_dashboard_uses_only_metrics_we_export(db: Database, gateway: App) -> None:
    await insert_frontend(db, "fe", "s")
    sim = SimNode(secret="x")
    await sim.start()
    try:
        backend = await backend_store.insert_backend(db, sim.api_url, sim.secret)
        await gateway.app[CONTROLLER].poll(backend)
        await FrontendClient(gateway, "fe", "s").call("getMeetings")
        await db.execute("UPDATE backends SET agent_heartbeat = now()")
        async with gateway.get("/metrics") as resp:
            exported = set(samples(await resp.text()))
    finally:
        await sim.close()
    exprs = [t["expr"] for p in json.loads(DASHBOARD)["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"b3scale_[a-z_]+", e)}
    assert used and used <= exported, used - exported

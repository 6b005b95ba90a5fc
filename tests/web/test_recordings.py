"""Recording calls through the gateway: every backend the frontend used, only its own."""

import json
import xml.etree.ElementTree as ET

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from b3scale.cluster import meeting_ids
from b3scale.sim.node import SimNode
from b3scale.sim.state import Recording
from b3scale.store import backends as backend_store
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.keys import CONTROLLER
from tests.support.bbbclient import FrontendClient

App = TestClient[web.Request, web.Application]


async def setup(
    db: Database, gateway: App, fleet: list[SimNode]
) -> tuple[FrontendClient, FrontendClient]:
    for node in fleet[:2]:
        backend = await backend_store.insert_backend(db, node.api_url, node.secret)
        assert await gateway.app[CONTROLLER].poll(backend)
    await insert_frontend(db, "fe1", "s1")
    await insert_frontend(db, "fe2", "s2")
    fe1, fe2 = FrontendClient(gateway, "fe1", "s1"), FrontendClient(gateway, "fe2", "s2")
    # fe1 uses both nodes (two meetings at once spread out); its recordings stay there after
    # the meetings end. Node order is made to follow the meetings.
    for i in range(2):
        answer = await fe1.call("create", {"meetingID": f"lecture-{i}", "name": "L"})
        assert answer.returncode == "SUCCESS"
    if meeting_ids.encode("fe1", "lecture-0") not in fleet[0].meetings:
        fleet[0], fleet[1] = fleet[1], fleet[0]
    for i in range(2):
        await fe1.call("end", {"meetingID": f"lecture-{i}"})
    assert all(not n.meetings for n in fleet)
    fleet[0].add_recording(
        Recording(
            "rec-a-1",
            meeting_ids.encode("fe1", "lecture-0"),
            "A",
            1,
            2,
            preview_images=["https://node/preview/1.png"],
        )
    )
    fleet[0].add_recording(
        Recording(
            "rec-a-2",
            meeting_ids.encode("fe1", "lecture-0") + "-1",
            "A breakout",
            1,
            2,
            is_breakout=True,
        )
    )
    fleet[1].add_recording(Recording("rec-b-1", meeting_ids.encode("fe1", "lecture-1"), "B", 1, 2))
    fleet[1].add_recording(Recording("foreign", meeting_ids.encode("fe2", "theirs"), "X", 1, 2))
    fleet[1].add_recording(Recording("direct", "created-on-the-node", "D", 1, 2))
    return fe1, fe2


def listed(body: bytes) -> list[tuple[str, str]]:
    root = ET.fromstring(body)
    return sorted(
        (r.findtext("recordID") or "", r.findtext("meetingID") or "")
        for r in root.iter("recording")
    )


async def test_get_recordings_from_every_backend_only_own(
    db: Database, gateway: App, fleet: list[SimNode]
) -> None:
    fe1, fe2 = await setup(db, gateway, fleet)
    everything = await fe1.call("getRecordings")
    assert listed(everything.body) == [
        ("rec-a-1", "lecture-0"),
        ("rec-a-2", "lecture-0-1"),
        ("rec-b-1", "lecture-1"),
    ]
    assert b">https://node/preview/1.png</image>" in everything.body
    one = await fe1.call("getRecordings", {"meetingID": "lecture-1"})
    assert listed(one.body) == [("rec-b-1", "lecture-1")]
    two = await fe1.call("getRecordings", {"meetingID": "lecture-0,lecture-1"})
    assert [r for r, _ in listed(two.body)] == ["rec-a-1", "rec-b-1"]
    none = await fe2.call("getRecordings")
    assert none.returncode == "SUCCESS" and none.message_key == "noRecordings"


async def test_a_backend_that_is_down_leaves_partial_results(
    db: Database, gateway: App, fleet: list[SimNode]
) -> None:
    fe1, _ = await setup(db, gateway, fleet)
    await fleet[1].stop()
    partial = await fe1.call("getRecordings")
    assert partial.returncode == "SUCCESS"
    assert [r for r, _ in listed(partial.body)] == ["rec-a-1", "rec-a-2"]


async def test_changes_by_record_id(db: Database, gateway: App, fleet: list[SimNode]) -> None:
    fe1, fe2 = await setup(db, gateway, fleet)
    published = await fe1.call(
        "publishRecordings", {"recordID": "rec-b-1,rec-a-1", "publish": "false"}
    )
    assert published.returncode == "SUCCESS" and published.text("published") == "false"
    assert (
        not fleet[1].recordings["rec-b-1"].published
        and not fleet[0].recordings["rec-a-1"].published
    )
    updated = await fe1.call("updateRecordings", {"recordID": "rec-a-1", "meta_gl-listed": "true"})
    assert updated.returncode == "SUCCESS"
    assert fleet[0].recordings["rec-a-1"].metadata == {"gl-listed": "true"}
    stolen = await fe2.call("deleteRecordings", {"recordID": "rec-a-1"})
    assert stolen.message_key == "notFound" and "rec-a-1" in fleet[0].recordings
    missing = await fe1.call("deleteRecordings", {})
    assert missing.message_key == "missingParamRecordID"
    deleted = await fe1.call("deleteRecordings", {"recordID": "rec-a-1"})
    assert deleted.text("deleted") == "true" and "rec-a-1" not in fleet[0].recordings


async def test_text_tracks(db: Database, gateway: App, fleet: list[SimNode]) -> None:
    fe1, fe2 = await setup(db, gateway, fleet)
    form = aiohttp.FormData()
    form.add_field(
        "file",
        b"WEBVTT\n\n00:00.000 --> 00:01.000\nHallo\n",
        filename="de.vtt",
        content_type="text/vtt",
    )
    path = fe1.path(
        "putRecordingTextTrack",
        {"recordID": "rec-b-1", "kind": "captions", "lang": "de", "label": "Deutsch"},
    )
    url = URL(str(gateway.make_url("/")).rstrip("/") + path, encoded=True)
    async with gateway.session.post(url, data=form) as resp:
        put = json.loads(await resp.read())
    assert put["response"]["returncode"] == "SUCCESS", put
    got = await fe1.call("getRecordingTextTracks", {"recordID": "rec-b-1"})
    tracks = json.loads(got.body)["response"]["tracks"]
    assert [(t["lang"], t["label"]) for t in tracks] == [("de", "Deutsch")]
    theirs = await fe2.call("getRecordingTextTracks", {"recordID": "rec-b-1"})
    assert json.loads(theirs.body)["response"]["messageKey"] == "noRecordings"

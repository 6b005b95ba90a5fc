"""The simulator's Redis events have the envelope of real BBB traffic (data/bbb-capture)."""

import asyncio
import json
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from b3scale.bbb.client import BackendClient
from b3scale.bbb.request import Request
from b3scale.sim.events import CHANNEL
from b3scale.sim.node import SimNode


async def collect(pubsub: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while len(found) < count:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                found.append(json.loads(message["data"]))
    return found


async def test_lifecycle_events(redis_url: str, http: aiohttp.ClientSession) -> None:
    node = SimNode(secret="s", redis_url=redis_url)
    await node.start()
    redis = aioredis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    try:
        bbb = BackendClient(http, node.api_url, node.secret)
        await bbb.call(
            Request.build(
                "create", {"meetingID": "ev-1", "name": "Events", "meta_bbb-origin": "Greenlight"}
            )
        )
        joined = await bbb.call(
            Request.build(
                "join",
                {
                    "meetingID": "ev-1",
                    "fullName": "Kim",
                    "role": "moderator",
                    "userID": "ext-7",
                    "redirect": "false",
                },
            )
        )
        token = joined.body.split(b"<session_token>")[1].split(b"<")[0].decode()
        attendee = await node.complete_join(token)
        assert attendee is not None
        await bbb.call(Request.build("end", {"meetingID": "ev-1"}))
        events = await collect(pubsub, 5)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()
        await node.close()

    names = [e["envelope"]["name"] for e in events]
    assert names == [
        "MeetingCreatedEvtMsg",
        "UserJoinedMeetingEvtMsg",
        "UserLeftMeetingEvtMsg",
        "MeetingEndedEvtMsg",
        "MeetingDestroyedEvtMsg",
    ]
    created, joined_evt, left = events[0], events[1], events[2]
    internal_id = created["core"]["body"]["props"]["meetingProp"]["intId"]
    assert created["envelope"]["routing"] == {"sender": "bbb-apps-akka"}
    assert created["core"]["header"] == {"name": "MeetingCreatedEvtMsg"}
    assert created["core"]["body"]["props"]["meetingProp"]["extId"] == "ev-1"
    assert created["core"]["body"]["props"]["metadataProp"]["metadata"] == {
        "bbb-origin": "Greenlight"
    }
    assert joined_evt["envelope"]["routing"] == {
        "msgType": "BROADCAST_TO_MEETING",
        "meetingId": internal_id,
        "userId": attendee.internal_id,
    }
    body = joined_evt["core"]["body"]
    assert (body["intId"], body["extId"], body["name"], body["role"]) == (
        attendee.internal_id,
        "ext-7",
        "Kim",
        "MODERATOR",
    )
    assert left["core"]["body"] == {"intId": attendee.internal_id}
    assert events[3]["core"]["body"] == {"meetingId": internal_id}
    assert all(isinstance(e["envelope"]["timestamp"], int) for e in events)


async def test_a_redis_outage_does_not_break_the_api(http: aiohttp.ClientSession) -> None:
    node = SimNode(secret="s", redis_url="redis://127.0.0.1:1/0")
    await node.start()
    try:
        bbb = BackendClient(http, node.api_url, node.secret)
        resp = await bbb.call(Request.build("create", {"meetingID": "r-1", "name": "R"}))
        assert resp.ok
    finally:
        await node.close()

"""BBB's Redis events, in the envelope akka-apps publishes (spec/bbb-api.md §3, and the
capture in data/bbb-capture): what the node agent listens to."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from b3scale.bbb.responses import java_date
from b3scale.sim.state import Attendee, Meeting, now_ms

log = logging.getLogger(__name__)

#: akka-apps' default route for meeting and user events.
CHANNEL = "from-akka-apps-redis-channel"


def _system(name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "envelope": {"name": name, "routing": {"sender": "bbb-apps-akka"}, "timestamp": now_ms()},
        "core": {"header": {"name": name}, "body": body},
    }


def _user(name: str, meeting_id: str, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    routing = {"msgType": "BROADCAST_TO_MEETING", "meetingId": meeting_id, "userId": user_id}
    return {
        "envelope": {"name": name, "routing": routing, "timestamp": now_ms()},
        "core": {
            "header": {"name": name, "meetingId": meeting_id, "userId": user_id},
            "body": body,
        },
    }


def meeting_created(m: Meeting) -> dict[str, Any]:
    props = {
        "meetingProp": {
            "name": m.name,
            "extId": m.meeting_id,
            "intId": m.internal_id,
            "isBreakout": m.is_breakout,
        },
        "breakoutProps": {
            "parentId": m.parent_meeting_id,
            "sequence": m.sequence,
            "freeJoin": m.free_join,
            "breakoutRooms": [],
            "enabled": True,
            "record": False,
            "privateChatEnabled": True,
        },
        "durationProps": {
            "duration": m.duration,
            "createdTime": m.create_time,
            "createdDate": java_date(m.create_time),
            "meetingExpireIfNoUserJoinedInMinutes": 5,
            "meetingExpireWhenLastUserLeftInMinutes": 1,
        },
        "password": {"moderatorPass": m.moderator_pw, "viewerPass": m.attendee_pw},
        "recordProp": {
            "record": m.record,
            "autoStartRecording": False,
            "allowStartStopRecording": True,
            "keepEvents": False,
        },
        "voiceProp": {
            "telVoice": m.voice_bridge,
            "voiceConf": m.voice_bridge,
            "dialNumber": m.dial_number,
            "muteOnStart": False,
        },
        "usersProp": {
            "maxUsers": m.max_users,
            "webcamsOnlyForModerator": False,
            "guestPolicy": "ALWAYS_ACCEPT",
            "allowModsToUnmuteUsers": False,
        },
        "metadataProp": {"metadata": dict(m.metadata)},
    }
    return _system("MeetingCreatedEvtMsg", {"props": props})


def meeting_ended(m: Meeting) -> dict[str, Any]:
    return _system("MeetingEndedEvtMsg", {"meetingId": m.internal_id})


def meeting_destroyed(m: Meeting) -> dict[str, Any]:
    return _system("MeetingDestroyedEvtMsg", {"meetingId": m.internal_id})


def user_joined(m: Meeting, a: Attendee) -> dict[str, Any]:
    body = {
        "intId": a.internal_id,
        "extId": a.user_id,
        "name": a.full_name,
        "role": a.role,
        "guest": False,
        "authed": True,
        "guestStatus": "ALLOW",
        "emoji": "none",
        "presenter": a.is_presenter,
        "locked": True,
        "avatar": "",
        "clientType": a.client_type,
    }
    return _user("UserJoinedMeetingEvtMsg", m.internal_id, a.internal_id, body)


def user_left(m: Meeting, a: Attendee) -> dict[str, Any]:
    return _user("UserLeftMeetingEvtMsg", m.internal_id, a.internal_id, {"intId": a.internal_id})


class EventPublisher:
    """PUBLISHes events to a node's Redis; a Redis outage is logged, never raised."""

    def __init__(self, redis_url: str | None) -> None:
        self._redis = aioredis.from_url(redis_url) if redis_url else None

    async def publish(self, event: dict[str, Any]) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.publish(CHANNEL, json.dumps(event))
        except (RedisError, OSError) as exc:
            log.warning(
                "cannot publish BBB event",
                extra={"event": event["envelope"]["name"], "error": str(exc)},
            )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

"""Property-based tests (hypothesis): random bytes, encodings and lengths in the path, query,
headers and body of the gateway and the REST API. Whatever arrives, the answer is below 500
and in the caller's language (well-formed BBB XML, or JSON), and a refused call reaches no node.

Fixed seed (derandomize) and a bounded number of examples keep CI fast and repeatable.
"""

import json
import os
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, quote_from_bytes

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from yarl import URL

from b3scale.bbb.request import Request
from b3scale.bbb.text import is_clean
from b3scale.sim.node import SimNode
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from b3scale.web.api.auth import sign_token
from b3scale.web.metrics import KNOWN_CALLS
from tests.support.cluster import App
from tests.web.conftest import API_SECRET

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("B3SCALE_PROPERTY_EXAMPLES", "60")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CALLS = st.sampled_from([*sorted(KNOWN_CALLS), "nosuchcall"])
#: Text as attackers write it: control characters, NUL, long runs, non-ASCII.
TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\x00", "a\x00b", "\x01", "x" * 3000, "ünï", "<fz1_%>", "]]>", "&amp;", ""]
)
PARAM_NAMES = (
    st.sampled_from(
        [
            "meetingID",
            "name",
            "fullName",
            "role",
            "password",
            "recordID",
            "redirect",
            "meta_bbb-origin",
            "meta_fz1_%",
            "meta_<",
            "meta_a b",
            "meta_",
        ]
    )
    | TEXT
).filter(lambda name: name != "checksum")  # a second checksum is a checksumError
RAW = st.binary(max_size=200)


def percent(data: bytes) -> str:
    return quote_from_bytes(data, safe="")


def parses_in_kind(status: int, content_type: str, body: bytes) -> None:
    assert status < 500, body[:300]
    if "xml" in content_type:
        ET.fromstring(body)  # well-formed, or this raises
    elif "json" in content_type:
        json.loads(body)
    else:
        # Only the join pages are HTML (a redirect or the not-found page).
        assert content_type.startswith("text/html") and status in (302, 404), (status, body[:200])


async def exchange(app: App, method: str, target: str, **kwargs: Any) -> tuple[int, str, bytes]:
    url = URL(str(app.make_url("/")).rstrip("/") + target, encoded=True)
    async with app.session.request(method, url, allow_redirects=False, **kwargs) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


@PROPERTY_SETTINGS
@given(
    key=st.sampled_from(["fe", "nope"]) | RAW.map(percent),
    call=CALLS,
    raw_query=RAW.map(lambda b: b.decode("latin-1")).map(lambda s: quote(s, safe="=&%+")),
    body=RAW,
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT"]),
    header=TEXT.filter(lambda v: v.isprintable() and v.isascii()),
)
async def test_unsigned_garbage_gets_a_bbb_answer_and_reaches_no_node(
    db: Database,
    gateway: App,
    fleet: list[SimNode],
    ready: list[Backend],
    key: str,
    call: str,
    raw_query: str,
    body: bytes,
    method: str,
    header: str,
) -> None:
    if not await db.fetch_value("SELECT count(*) FROM frontends"):
        await insert_frontend(db, "fe", "fe-secret", {})
    before = [len(node.calls) for node in fleet]
    status, content_type, answer = await exchange(
        gateway,
        method,
        f"/bbb/{key}/bigbluebutton/api/{call}?{raw_query}",
        data=body,
        headers={"X-Junk": header[:200], "Content-Type": "application/x-www-form-urlencoded"},
    )
    if method != "HEAD":
        parses_in_kind(status, content_type, answer)
    if call:  # a call without a valid checksum never reaches a node
        assert [len(node.calls) for node in fleet] == before


@PROPERTY_SETTINGS
@given(call=CALLS, params=st.dictionaries(PARAM_NAMES, TEXT, max_size=6))
async def test_signed_calls_with_hostile_values_answer_in_kind(
    db: Database,
    gateway: App,
    fleet: list[SimNode],
    ready: list[Backend],
    call: str,
    params: dict[str, str],
) -> None:
    if not await db.fetch_value("SELECT count(*) FROM frontends"):
        await insert_frontend(db, "fe", "fe-secret", {})
    query = Request.build(call, params).signed_query("fe-secret")
    before = [len(node.calls) for node in fleet]
    status, content_type, answer = await exchange(
        gateway, "GET", f"/bbb/fe/bigbluebutton/api/{call}?{query}"
    )
    parses_in_kind(status, content_type, answer)
    unclean = [k for k, v in params.items() if not is_clean(k) or not is_clean(v)]
    note(f"params={params!r} answer={answer[:300]!r}")
    if unclean and call:
        assert ET.fromstring(answer).findtext("messageKey") == "validationError"
        assert [len(node.calls) for node in fleet] == before
    # Whatever was stored, the tenant's listing stays well-formed XML.
    listing = Request.build("getMeetings").signed_query("fe-secret")
    status, _, answer = await exchange(
        gateway, "GET", f"/bbb/fe/bigbluebutton/api/getMeetings?{listing}"
    )
    assert status == 200 and ET.fromstring(answer).findtext("returncode") == "SUCCESS"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
API_TARGETS = st.sampled_from(
    [
        "/api/v1",
        "/api/v1/frontends",
        "/api/v1/backends",
        "/api/v1/meetings",
        "/api/v1/frontends/{fe}",
        "/api/v1/backends/{id}",
        "/api/v1/meetings/{id}",
        "/api/v1/commands/{id}",
        "/api/v1/callbacks",
        "/api/v1/status",
        "/api/v1/nothing",
    ]
)


@PROPERTY_SETTINGS
@given(
    target=API_TARGETS,
    suffix=RAW.map(percent),
    query=RAW.map(lambda b: b.decode("latin-1")).map(lambda s: quote(s, safe="=&%")),
    body=JSON_VALUES.map(lambda v: json.dumps(v).encode()) | RAW,
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]),
    who=st.sampled_from(["admin", "user", "nosub", "garbage", "none"]),
)
async def test_the_api_answers_json_and_a_subjectless_token_changes_nothing(
    db: Database,
    api: App,
    target: str,
    suffix: str,
    query: str,
    body: bytes,
    method: str,
    who: str,
) -> None:
    owned = await db.fetch_one("SELECT id FROM frontends WHERE key = 'owned-by-admin'")
    if owned is None:
        owned = {"id": (await insert_frontend(db, "owned-by-admin", "keep-me", {})).id}
    tokens = {
        "admin": sign_token(API_SECRET, "root", "b3scale:admin", 60),
        "user": sign_token(API_SECRET, "tenant", "b3scale", 60),
        "nosub": sign_token(API_SECRET, "", "b3scale", 60),
        "garbage": "a.b.c",
    }
    headers = {"Content-Type": "application/json"}
    if who in tokens:
        headers["Authorization"] = f"Bearer {tokens[who]}"
    path = target.replace("{fe}", str(owned["id"])).replace("{id}", suffix or "x")
    status, content_type, answer = await exchange(
        api, method, f"{path}?{query}", data=body, headers=headers
    )
    assert status < 500, answer[:300]
    assert content_type.startswith("application/json"), answer[:300]
    json.loads(answer)
    if who != "admin":
        row = await db.fetch_one(
            "SELECT secret, active, account_ref FROM frontends WHERE key = 'owned-by-admin'"
        )
        assert row == {"secret": "keep-me", "active": True, "account_ref": None}


@PROPERTY_SETTINGS
@given(
    token=RAW.map(percent) | st.sampled_from(["", "a.b", "e30.e30", "x" * 20000]),
    query=RAW.map(lambda b: b.decode("latin-1")).map(lambda s: quote(s, safe="=&%")),
    body=RAW,
    method=st.sampled_from(["GET", "POST", "PUT"]),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain"]
    ),
    authorization=st.sampled_from(["", "Bearer x", "Bearer a.b.c", "Basic eA=="]),
)
async def test_node_callbacks_with_garbage_are_refused_and_queue_nothing(
    db: Database,
    gateway: App,
    token: str,
    query: str,
    body: bytes,
    method: str,
    content_type: str,
    authorization: str,
) -> None:
    headers = {"Content-Type": content_type}
    if authorization:
        headers["Authorization"] = authorization
    status, _, _ = await exchange(
        gateway, method, f"/b3s/callback/{token}?{query}", data=body, headers=headers
    )
    assert status in (400, 404, 405, 413), status
    assert await db.fetch_value("SELECT count(*) FROM callbacks") == 0

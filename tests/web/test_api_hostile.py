"""The REST API against an attacker: ownership without a subject, and bodies, parameters and
tokens meant to break it. Each answer is asserted exactly, on the real app and database."""

import gzip
import json
import warnings
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from b3scale.store.db import Database
from b3scale.store.frontends import insert_frontend
from tests.support.cluster import App
from tests.web.test_api import ADMIN


async def send(
    api: App,
    method: str,
    path: str,
    *,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    merged = {**ADMIN, "Content-Type": "application/json", **(headers or {})}
    async with api.request(method, path, data=data, headers=merged) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


async def admin_frontend(db: Database) -> str:
    created = await insert_frontend(db, "admins-own", "s3cr3t-admin", {})
    return str(created.id)


async def test_a_token_without_a_subject_owns_nothing(api: App, db: Database) -> None:
    frontend_id = await admin_frontend(db)
    for claims in (
        {"scope": "b3scale"},
        {"scope": "b3scale", "sub": ""},
        {"scope": "b3scale", "sub": "  "},
    ):
        headers = {"Authorization": "Bearer " + token_without_sub(**claims)}
        assert await send(api, "GET", f"/api/v1/frontends/{frontend_id}", headers=headers) == (
            404,
            {"error": "not_found", "message": "frontend not found"},
        )
        status, _ = await send(
            api,
            "PATCH",
            f"/api/v1/frontends/{frontend_id}",
            data=json.dumps({"bbb": {"secret": "stolen"}, "active": False}),
            headers=headers,
        )
        assert status == 404
        status, _ = await send(api, "DELETE", f"/api/v1/frontends/{frontend_id}", headers=headers)
        assert status == 404
        assert await send(api, "GET", "/api/v1/frontends", headers=headers) == (200, [])
        status, body = await send(
            api,
            "POST",
            "/api/v1/frontends",
            data=json.dumps({"bbb": {"key": "mine", "secret": "abc"}}),
            headers=headers,
        )
        assert (status, body["error"]) == (403, "forbidden")
    row = await db.fetch_one("SELECT secret, active FROM frontends WHERE id = %s", (frontend_id,))
    assert row == {"secret": "s3cr3t-admin", "active": True}
    assert await db.fetch_value("SELECT count(*) FROM frontends") == 1


def token_without_sub(**claims: Any) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, "fooo", algorithm="HS256")


@pytest.mark.parametrize("scope", [42, 4.2, True, {"a": 1}, [1, 2], None])
async def test_a_scope_that_is_not_a_string_grants_nothing(api: App, scope: Any) -> None:
    headers = {"Authorization": "Bearer " + token_without_sub(sub="x", scope=scope)}
    status, body = await send(api, "GET", "/api/v1/frontends", headers=headers)
    assert (status, body["error"]) == (403, "invalid_credentials")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"bbb": {"key": "a\\u0000b", "secret": "x"}}', "NUL"),
        (b'{"bbb": {"key": "ab", "secret": "\\udfff"}}', "surrogate"),
        (b'{"bbb": {"key": "ab", "secret": "x"}, "\\u0000": 1}', "key"),
        (b"[" * 5000 + b"]" * 5000, "nests deeper"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, "nests deeper"),
        ('{"bbb": {"key": "\xe9", "secret": "x"}}'.encode("latin-1"), "UTF-8"),
        ('{"bbb": {"key": "ab", "secret": "x"}}'.encode("utf-16"), "UTF-8"),
        (b'{"load_factor": 1e400}', "out of range"),
        (b'{"load_factor": ' + b"9" * 300 + b"}", "out of range"),
        (b'{"load_factor": ' + b"9" * 5000 + b"}", "out of range"),
        (b'{"load_factor": NaN}', "not JSON"),
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
async def test_bodies_that_are_not_clean_json_are_refused(
    api: App, db: Database, body: bytes, message: str
) -> None:
    for method, path in (("POST", "/api/v1/frontends"), ("POST", "/api/v1/backends")):
        status, answer = await send(api, method, path, data=body)
        assert (status, answer["error"]) == (400, "invalid_json"), answer
        assert message in answer["message"]
    assert await db.fetch_value("SELECT count(*) FROM frontends") == 0


async def test_encodings_and_sizes(api: App) -> None:
    garbage = {"Content-Encoding": "gzip"}
    status, answer = await send(
        api, "POST", "/api/v1/frontends", data=b"\x1f\x8bnot", headers=garbage
    )
    assert (status, answer["error"]) == (400, "invalid_json")
    good = gzip.compress(b'{"bbb": {"key": "zipped", "secret": "abc"}}')
    status, answer = await send(api, "POST", "/api/v1/frontends", data=good, headers=garbage)
    assert (status, answer["bbb"]["key"]) == (201, "zipped")
    status, answer = await send(
        api, "POST", "/api/v1/frontends", data=b'{"a": "' + b"x" * 70_000 + b'"}'
    )
    assert (status, answer["error"]) == (413, "request_too_large")
    weird = {"Content-Type": "application/json; charset=klingon"}
    status, answer = await send(
        api,
        "POST",
        "/api/v1/frontends",
        data=b'{"bbb": {"key": "k", "secret": "abc"}}',
        headers=weird,
    )
    assert status == 201


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (
            {"bbb": {"key": "k" * 129, "secret": "abc"}},
            {"bbb.key": ["must be at most 128 characters"]},
        ),
        (
            {"bbb": {"key": "k" * 9000, "secret": "abc"}},
            {"bbb.key": ["must be at most 128 characters"]},
        ),
        (
            {"bbb": {"key": "a b", "secret": "abc"}},
            {"bbb.key": ["may hold only letters, digits and . _ ~ -"]},
        ),
        (
            {"bbb": {"key": "ab", "secret": "with space"}},
            {"bbb.secret": ["must be printable ASCII without spaces"]},
        ),
        ({"bbb": {"key": "ab", "secret": 5}}, {"bbb.secret": ["must be a string"]}),
        ({"bbb": "x"}, {"bbb": ["must be an object"]}),
        (
            {"bbb": {"key": "ab", "secret": "abc"}, "settings": {"create_default_params": [1, 2]}},
            {"settings.create_default_params": ["must be an object"]},
        ),
        (
            {"bbb": {"key": "ab", "secret": "abc"}, "settings": {"required_tags": "x"}},
            {"settings.required_tags": ["must be an array"]},
        ),
        ({"bbb": {"key": "ab", "secret": "abc"}, "active": 1}, {"active": ["must be a boolean"]}),
        (
            {"bbb": {"key": "ab", "secret": "abc"}, "account_ref": "x" * 81},
            {"account_ref": ["must be at most 80 characters"]},
        ),
    ],
)
async def test_frontend_fields_have_types_and_limits(
    api: App, db: Database, data: dict[str, Any], fields: dict[str, list[str]]
) -> None:
    status, answer = await send(api, "POST", "/api/v1/frontends", data=json.dumps(data))
    assert (status, answer) == (
        400,
        {"error": "validation_error", "message": "validation failed with input", "fields": fields},
    )
    assert await db.fetch_value("SELECT count(*) FROM frontends") == 0


@pytest.mark.parametrize(
    ("patch", "fields"),
    [
        ({"load_factor": 0}, {"load_factor": ["must be greater than 0"]}),
        ({"load_factor": 1e300}, {"load_factor": ["must be at most 1000"]}),
        ({"load_factor": True}, {"load_factor": ["must be a number"]}),
        ({"load_factor": "2"}, {"load_factor": ["must be a number"]}),
        ({"bbb": {"host": "ftp://x"}}, {"bbb.host": ["must be an http:// or https:// URL"]}),
        ({"bbb": {"host": "http://[::1"}}, {"bbb.host": ["must be an http:// or https:// URL"]}),
        ({"bbb": {"host": "http://a b/"}}, {"bbb.host": ["must be an http:// or https:// URL"]}),
        (
            {"bbb": {"host": "http://" + "a" * 3000}},
            {"bbb.host": ["must be at most 2048 characters"]},
        ),
        ({"settings": {"tags": [1]}}, {"settings.tags[0]": ["must be a string"]}),
        (
            {"admin_state": "evil"},
            {"admin_state": ["must be one of init, ready, stopped, decommissioned"]},
        ),
    ],
)
async def test_backend_fields_have_types_and_limits(
    api: App, patch: dict[str, Any], fields: dict[str, list[str]]
) -> None:
    status, created = await send(
        api,
        "POST",
        "/api/v1/backends",
        data=json.dumps({"bbb": {"host": "http://n1", "secret": "abc"}}),
    )
    assert status == 201
    for method, path, body in (
        ("PATCH", f"/api/v1/backends/{created['id']}", patch),
        ("POST", "/api/v1/backends", {"bbb": {"host": "http://n2", "secret": "abc"}} | patch),
    ):
        if method == "POST" and "bbb" in patch:
            body = {**body, "bbb": {"secret": "abc", **patch["bbb"]}}
        status, answer = await send(api, method, path, data=json.dumps(body))
        assert (status, answer.get("fields")) == (400, fields), (method, answer)
    status, now = await send(api, "GET", f"/api/v1/backends/{created['id']}")
    assert now["load_factor"] == 1.0 and now["bbb"]["host"] == "http://n1/bigbluebutton/api/"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/frontends?account_ref=%00",
        "/api/v1/frontends?key=%00",
        "/api/v1/frontends?key__like=a%01",
        "/api/v1/backends?host=http://a%00",
        "/api/v1/meetings/ab%00cd",
        "/api/v1/meetings?backend_host=" + "a" * 3000,
        "/api/v1/frontends?key=%ED%BF%BF",
    ],
)
async def test_parameters_with_nul_or_control_characters_are_refused(api: App, path: str) -> None:
    status, answer = await send(api, "GET", path)
    assert (status, answer["error"]) == (400, "invalid_parameter")


async def test_unknown_routes_and_methods_answer_json(api: App) -> None:
    assert (await send(api, "GET", "/api/v1/nothing"))[0] == 404
    status, answer = await send(api, "PUT", "/api/v1/frontends")
    assert (status, answer["error"]) == (405, "method_not_allowed")
    status, answer = await send(
        api, "GET", "/api/v1/frontends", headers={"Authorization": "Bearer " + "x" * 60_000}
    )
    assert (status, answer["error"]) == (401, "invalid_token")

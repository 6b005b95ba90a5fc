"""The OpenAPI 3 description of ``/api/v1`` and a readable page made from it.

Written by hand next to the handlers; a test walks the application's routes and fails on any
route this document lacks.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from b3scale import __version__
from b3scale.agent.wire import EVENT_SCHEMAS
from b3scale.web.api import inputs

routes = web.RouteTableDef()


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Invalid input (validation errors list the fields)"),
    "401": _json(_ref("Error"), "Missing, invalid or expired token"),
    "403": _json(_ref("Error"), "The token lacks the scope, or its node the right"),
    "503": _json(_ref("Error"), "The database is not available"),
}
NOT_FOUND = {"404": _json(_ref("Error"), "Not found (or not yours)")}
#: Answers of every operation that takes a body, besides ERRORS.
BODY_ERRORS = {"413": _json(_ref("Error"), "The body is larger than 64 KiB")}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
BACKEND_QUERY = [
    {"name": "backend_id", "in": "query", "schema": {"type": "string", "format": "uuid"}},
    {
        "name": "backend_host",
        "in": "query",
        "schema": {"type": "string", "maxLength": 2048},
        "description": "The backend's URL; normalised like everywhere else",
    },
]


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**responses, **ERRORS}, **extra}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str = "") -> dict[str, Any]:
    schema = {"type": "string", "maxLength": 2048}
    return {"name": name, "in": "query", "schema": schema, "description": description}


SETTINGS = {
    "type": "object",
    "additionalProperties": True,
    "description": "Free-form; unknown keys are kept",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "A stable code, e.g. validation_error"},
            "message": {"type": "string"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
    "Frontend": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "active": {"type": "boolean"},
            "bbb": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "secret": {"type": "string", "description": "The current secret"},
                    "secrets": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Every accepted secret, the current one first",
                    },
                },
            },
            "settings": {
                **SETTINGS,
                "properties": {
                    "required_tags": {"type": "array", "items": {"type": "string"}},
                    "default_presentation": {
                        "type": "object",
                        "properties": {"url": {"type": "string"}, "force": {"type": "boolean"}},
                    },
                    "create_default_params": {"type": "object"},
                    "create_override_params": {"type": "object"},
                    "join_default_params": {"type": "object"},
                    "join_override_params": {"type": "object"},
                    "checksum_algorithms": {"type": "array", "items": {"type": "string"}},
                    "attendees_limit": {"type": "object"},
                    "meetings_limit": {"type": "object"},
                    "max_participants": {"type": "integer"},
                    "unique_voice_bridge": {"type": "boolean"},
                },
            },
            "account_ref": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "Backend": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "node_state": {"type": "string", "enum": ["init", "ready", "error"]},
            "admin_state": {
                "type": "string",
                "enum": ["init", "ready", "stopped", "decommissioned", "destroyed"],
            },
            "healthy": {"type": "boolean"},
            "agent_heartbeat": {"type": "string", "format": "date-time", "nullable": True},
            "agent_ref": {
                "type": "string",
                "nullable": True,
                "description": "The node agent (its token's sub) that reports for this backend",
            },
            "last_error": {"type": "string", "nullable": True},
            "latency": {"type": "integer", "description": "Last poll's round trip, nanoseconds"},
            "meetings_count": {"type": "integer"},
            "breakouts_count": {"type": "integer"},
            "attendees_count": {"type": "integer"},
            "load_factor": {"type": "number"},
            "checksum_algorithm": {
                "type": "string",
                "enum": ["sha1", "sha256", "sha384", "sha512"],
            },
            "bbb": {
                "type": "object",
                "properties": {"host": {"type": "string"}, "secret": {"type": "string"}},
            },
            "settings": {
                **SETTINGS,
                "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "synced_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "Meeting": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The meetingID on the backend"},
            "meeting_id": {"type": "string", "description": "The meetingID of the frontend"},
            "internal_id": {"type": "string", "nullable": True},
            "frontend_id": {"type": "string", "nullable": True},
            "backend_id": {"type": "string", "nullable": True},
            "name": {"type": "string"},
            "running": {"type": "boolean"},
            "attendees_count": {"type": "integer"},
            "meeting": {"type": "object", "description": "BBB's fields, as last reported"},
        },
    },
    "Callback": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "frontend": {"type": "string", "description": "The frontend's key"},
            "kind": {
                "type": "string",
                "enum": ["end", "recording-ready", "analytics", "other"],
            },
            "method": {"type": "string"},
            "url": {"type": "string", "description": "Where it goes (without the query)"},
            "state": {"type": "string", "enum": ["pending", "failed", "delivered"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": "string", "format": "date-time", "nullable": True},
            "last_error": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "Command": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "seq": {"type": "integer"},
            "state": {"type": "string", "enum": ["requested", "running", "success", "error"]},
            "action": {"type": "string"},
            "params": {"type": "object"},
            "result": {},
            "deadline": {"type": "string", "format": "date-time"},
        },
    },
}

PATCH_NOTE = (
    "Merges: keys left out are kept at every depth, null removes a key, arrays are replaced."
)

PATHS: dict[str, Any] = {
    "/api/v1": {"get": _op("Who the token is", {"200": _json({"type": "object"}, "Identity")})},
    "/api/v1/status": {
        "get": _op(
            "Database and schema status",
            {
                "200": _json({"type": "object"}, "Status"),
                "503": _json({"type": "object"}, "Database unavailable"),
            },
        )
    },
    "/api/v1/frontends": {
        "get": _op(
            "List frontends (users: their own)",
            {"200": _json({"type": "array", "items": _ref("Frontend")}, "Frontends")},
            parameters=[_query(n) for n in ("key", "key__like", "account_ref")],
        ),
        "post": _op(
            "Create a frontend",
            {
                "201": _json(_ref("Frontend"), "Created"),
                "409": _json(_ref("Error"), "Key taken"),
                **BODY_ERRORS,
            },
            requestBody=_body(inputs.FRONTEND),
        ),
    },
    "/api/v1/frontends/{id}": {
        "parameters": [ID],
        "get": _op("Show a frontend", {"200": _json(_ref("Frontend"), "Frontend"), **NOT_FOUND}),
        "patch": _op(
            "Change a frontend",
            {
                "200": _json(_ref("Frontend"), "Changed"),
                "409": _json(_ref("Error"), "Key taken"),
                **NOT_FOUND,
                **BODY_ERRORS,
            },
            description=PATCH_NOTE,
            requestBody=_body(inputs.FRONTEND_PATCH),
        ),
        "delete": _op(
            "Delete a frontend (its meetings are forgotten); one with imported recordings "
            "needs with_recordings=true (they and their files are deleted too)",
            {
                "200": _json(_ref("Frontend"), "Deleted"),
                "409": _json(_ref("Error"), "It has imported recordings"),
                **NOT_FOUND,
            },
            parameters=[{"name": "with_recordings", "in": "query", "schema": {"type": "boolean"}}],
        ),
    },
    "/api/v1/backends": {
        "get": _op(
            "List backends (admin)",
            {"200": _json({"type": "array", "items": _ref("Backend")}, "Backends")},
            parameters=[_query(n) for n in ("host", "host__like")],
        ),
        "post": _op(
            "Add a backend (admin); it is polled at once",
            {
                "201": _json(_ref("Backend"), "Created"),
                "409": _json(_ref("Error"), "Host taken"),
                **BODY_ERRORS,
            },
            requestBody=_body(inputs.BACKEND),
        ),
    },
    "/api/v1/backends/{id}": {
        "parameters": [ID],
        "get": _op(
            "Show a backend (admin)", {"200": _json(_ref("Backend"), "Backend"), **NOT_FOUND}
        ),
        "patch": _op(
            "Change a backend (admin)",
            {
                "200": _json(_ref("Backend"), "Changed"),
                "409": _json(_ref("Error"), "Host taken"),
                **NOT_FOUND,
                **BODY_ERRORS,
            },
            description=PATCH_NOTE,
            requestBody=_body(inputs.BACKEND_PATCH),
        ),
        "delete": _op(
            "Decommission a backend (admin); force=true deletes it now",
            {"200": _json(_ref("Backend"), "Decommissioned or destroyed"), **NOT_FOUND},
            parameters=[{"name": "force", "in": "query", "schema": {"type": "boolean"}}],
        ),
    },
    "/api/v1/meetings": {
        "get": _op(
            "List meetings (admin)",
            {"200": _json({"type": "array", "items": _ref("Meeting")}, "Meetings"), **NOT_FOUND},
            parameters=[
                *BACKEND_QUERY,
                {
                    "name": "frontend_id",
                    "in": "query",
                    "schema": {"type": "string", "format": "uuid"},
                },
            ],
        ),
        "delete": _op(
            "End every meeting on a backend (admin), in the background",
            {"202": _json(_ref("Command"), "Queued"), **NOT_FOUND},
            parameters=BACKEND_QUERY,
        ),
    },
    "/api/v1/meetings/{id}": {
        "parameters": [ID],
        "get": _op(
            "Show a meeting (admin)", {"200": _json(_ref("Meeting"), "Meeting"), **NOT_FOUND}
        ),
        "delete": _op(
            "End a meeting now (admin)",
            {
                "200": _json(_ref("Meeting"), "Ended"),
                **NOT_FOUND,
                "502": _json(_ref("Error"), "The backend failed"),
            },
        ),
    },
    "/api/v1/callbacks": {
        "get": _op(
            "Callback deliveries to frontends (admin): pending and failed by default",
            {"200": _json({"type": "array", "items": _ref("Callback")}, "Callbacks")},
            parameters=[
                {
                    "name": "state",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["pending", "failed", "delivered"]},
                }
            ],
        ),
    },
    "/api/v1/commands/{id}": {
        "parameters": [ID],
        "get": _op(
            "Follow a queued command (admin)",
            {"200": _json(_ref("Command"), "Command"), **NOT_FOUND},
        ),
    },
    "/api/v1/agent/backend": {
        "get": _op(
            "The node agent's own backend (b3scale:node)",
            {"200": _json(_ref("Backend"), "Backend"), **NOT_FOUND},
        ),
        "put": _op(
            "A node agent announces its node (b3scale:node): URL, secret, load factor; "
            "register=true creates the backend (admin state init) when none is bound to it",
            {
                "200": _json(_ref("Backend"), "Updated"),
                "201": _json(_ref("Backend"), "Registered"),
                "409": _json(_ref("Error"), "The host belongs to another backend or agent"),
                **NOT_FOUND,
                **BODY_ERRORS,
            },
            requestBody=_body(inputs.AGENT_BACKEND),
        ),
    },
    "/api/v1/agent/heartbeat": {
        "post": _op(
            "The node agent is alive (b3scale:node), every second",
            {"200": _json({"type": "object"}, "Heartbeat recorded"), **NOT_FOUND},
        ),
        "delete": _op(
            "The node agent stops on purpose (b3scale:node): polls alone judge the node",
            {"200": _json({"type": "object"}, "Signed off"), **NOT_FOUND},
        ),
    },
    "/api/v1/agent/events": {
        "post": _op(
            "A batch of the node's BBB events, applied in order (b3scale:node); idempotent",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "applied": {"type": "integer"},
                            "unknown": {
                                "type": "integer",
                                "description": "Joins to meetings not known: resync",
                            },
                        },
                    },
                    "Applied",
                ),
                **NOT_FOUND,
                "413": _json(_ref("Error"), "The body is larger than 1 MiB"),
            },
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "maxItems": 1000,
                            "items": {"oneOf": list(EVENT_SCHEMAS.values())},
                        }
                    },
                }
            ),
        ),
    },
    "/api/v1/agent/resync": {
        "post": _op(
            "The node's own getMeetings answer, as XML (b3scale:node): the full state",
            {
                "200": _json({"type": "object"}, "Synced"),
                **NOT_FOUND,
                "413": _json(_ref("Error"), "The body is larger than 32 MiB"),
            },
            requestBody={
                "required": True,
                "content": {"application/xml": {"schema": {"type": "string"}}},
            },
        ),
    },
    "/api/v1/recording-files/{record_id}/{format}/{path}": {
        "parameters": [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in ("record_id", "format", "path")
        ],
        "get": _op(
            "What the cluster has of a recording's file (b3scale:node or admin; a node only "
            "of a recording it pushes itself): the complete file's size and SHA-256, and the "
            "bytes of an interrupted upload",
            {"200": _json({"type": "object"}, "State"), **NOT_FOUND},
        ),
        "put": _op(
            "Upload (part of) a recording's file from offset (b3scale:node or admin; a node "
            "only to a recording it pushes itself: imported from it, or whose record ID its "
            "first upload claimed); with total and sha256 the last part: the file appears "
            "when both match",
            {
                "200": _json({"type": "object"}, "Part stored"),
                "201": _json({"type": "object"}, "File complete"),
                "409": _json(_ref("Error"), "Wrong offset, or size/SHA-256 mismatch"),
                "413": _json(_ref("Error"), "Larger than 16 GiB"),
                **NOT_FOUND,
            },
            parameters=[
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "total", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "sha256", "in": "query", "schema": {"type": "string"}},
            ],
            requestBody={
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
        ),
    },
    "/api/v1/recordings-import": {
        "post": _op(
            "Import a pushed recording's format: its metadata.xml (b3scale:node or admin). A "
            "node imports only recordings of frontends whose meetings it hosted, and never "
            "replaces a recording another node pushed",
            {
                "201": _json({"type": "object"}, "Imported"),
                "409": _json(
                    _ref("Error"),
                    "Its meeting is no frontend's, or the recording is another frontend's or "
                    "another node's",
                ),
                **NOT_FOUND,
                "413": _json(_ref("Error"), "The body is larger than 1 MiB"),
            },
            requestBody={
                "required": True,
                "content": {"application/xml": {"schema": {"type": "string"}}},
            },
        ),
    },
    "/api/v1/recordings": {
        "get": _op(
            "Imported recordings (admin)",
            {
                "200": _json({"type": "array", "items": {"type": "object"}}, "Recordings"),
                **NOT_FOUND,
            },
            parameters=[_query("frontend_key")],
        ),
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3"}},
        }
    },
    "/api/v1/docs": {
        "get": {
            "summary": "This document as a page",
            "security": [],
            "responses": {"200": {"description": "HTML"}},
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "b3scale REST API",
        "version": __version__,
        "description": "Frontends, backends and meetings of a b3scale cluster. "
        "Authenticate with a JWT (HS256/384/512, B3SCALE_API_JWT_SECRET) whose scope "
        "has b3scale or b3scale:admin; node agents' tokens (b3scale:node) reach only "
        "/api/v1/agent/ and act on their own backend.",
    },
    "servers": [{"url": "/"}],
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
}

METHODS = ("get", "post", "patch", "put", "delete")


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    rows = []
    for path, item in PATHS.items():
        for method in METHODS:
            if method in item:
                op = item[method]
                note = (
                    f"<br><small>{escape(op['description'])}</small>" if "description" in op else ""
                )
                codes = ", ".join(sorted(op["responses"]))
                rows.append(
                    f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code>"
                    f"</td><td>{escape(op['summary'])}{note}</td><td>{codes}</td></tr>"
                )
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>b3scale REST API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.3em .8em;"
        "border-bottom:1px solid #ddd;vertical-align:top}</style></head><body>"
        f"<h1>b3scale REST API v1</h1><p>{escape(DOCUMENT['info']['description'])}</p>"
        "<p>Machine-readable: <a href='openapi.json'>openapi.json</a></p><table>"
        "<tr><th>Method</th><th>Path</th><th>What</th><th>Answers</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return web.Response(text=page, content_type="text/html")

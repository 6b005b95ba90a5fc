"""What the REST API accepts: one schema per input, published in the OpenAPI document and
enforced by :mod:`b3scale.web.api.schema`. Limits are checked here, before the database."""

from __future__ import annotations

from typing import Any

from b3scale.bbb.checksum import ALGORITHMS
from b3scale.store.frontends import KEY_MAX_LENGTH
from b3scale.web.api.schema import Schema

#: A frontend key is a path segment of every BBB URL (and the payload of a NOTIFY).
FRONTEND_KEY_MAX = KEY_MAX_LENGTH
FRONTEND_KEY_PATTERN = r"^[A-Za-z0-9._~-]+$"
SECRET_MAX = 256
HOST_MAX = 2048
ACCOUNT_REF_MAX = 80
TAG_MAX = 64
TAGS_MAX = 64
PARAM_VALUE_MAX = 8192
LOAD_FACTOR_MAX = 1000
#: Secrets a frontend accepts at once: the current one and the one it replaces.
SECRETS_MAX = 2
LIMIT_MAX = 10_000_000
ADMIN_STATES = ("init", "ready", "stopped", "decommissioned")

#: No whitespace or control characters: secrets are typed into config files and signed.
SECRET = {
    "type": "string",
    "minLength": 1,
    "maxLength": SECRET_MAX,
    "pattern": r"^[!-~]+$",
    "x-pattern-message": "must be printable ASCII without spaces",
}
TAGS = {
    "type": "array",
    "maxItems": TAGS_MAX,
    "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX},
}
#: BBB parameters a frontend's settings set on create or join: name -> value.
PARAMS = {
    "type": "object",
    "maxProperties": 256,
    "additionalProperties": {"type": "string", "maxLength": PARAM_VALUE_MAX},
}

FRONTEND: Schema = {
    "type": "object",
    "required": ["bbb"],
    "properties": {
        "bbb": {
            "type": "object",
            "required": ["key"],
            "description": "secret or secrets (or both) is required",
            "properties": {
                "key": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": FRONTEND_KEY_MAX,
                    "pattern": FRONTEND_KEY_PATTERN,
                    "x-pattern-message": "may hold only letters, digits and . _ ~ -",
                },
                "secret": {**SECRET, "description": "The current secret (callbacks use it)"},
                "secrets": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": SECRETS_MAX,
                    "items": SECRET,
                    "description": "Every secret checksums may be made with, newest first "
                    "(a rollover); the first is the current one unless secret names another",
                },
            },
        },
        "settings": {
            "type": "object",
            "description": "Unknown keys are kept",
            "maxProperties": 64,
            "properties": {
                "required_tags": TAGS,
                "attendees_limit": {
                    "type": "object",
                    "required": ["limit"],
                    "description": "No join while the frontend's meetings hold limit attendees",
                    "properties": {
                        "limit": {"type": "integer", "minimum": 0, "maximum": LIMIT_MAX},
                        "exempt_moderators": {"type": "boolean"},
                    },
                },
                "meetings_limit": {
                    "type": "object",
                    "required": ["limit"],
                    "description": "No new meeting while the frontend has limit meetings",
                    "properties": {
                        "limit": {"type": "integer", "minimum": 0, "maximum": LIMIT_MAX},
                    },
                },
                "max_participants": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": LIMIT_MAX,
                    "description": "Every create's maxParticipants is capped at this",
                },
                "unique_voice_bridge": {
                    "type": "boolean",
                    "description": "Voice bridges unique across the cluster (dial-in)",
                },
                "default_presentation": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string", "minLength": 1, "maxLength": HOST_MAX},
                        "force": {"type": "boolean"},
                    },
                },
                "create_default_params": PARAMS,
                "create_override_params": PARAMS,
                "join_default_params": PARAMS,
                "join_override_params": PARAMS,
                "checksum_algorithms": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(ALGORITHMS)},
                },
            },
        },
        "active": {"type": "boolean"},
        "account_ref": {
            "type": "string",
            "nullable": True,
            "maxLength": ACCOUNT_REF_MAX,
            "description": "Admins only; a user's frontends are always their own",
        },
    },
}

#: A node's API URL (normalised by the handlers).
HOST = {
    "type": "string",
    "minLength": 1,
    "maxLength": HOST_MAX,
    "description": "The node's API URL, http:// or https://",
}

#: A node agent's reference: its token's sub (b3scale ctl auth authorize_node_agent --ref).
AGENT_REF = {
    "type": "string",
    "nullable": True,
    "minLength": 1,
    "maxLength": 64,
    "pattern": r"^[A-Za-z0-9._~-]+$",
    "x-pattern-message": "may hold only letters, digits and . _ ~ -",
    "description": "The node agent that reports for this backend (its token's sub)",
}

BACKEND: Schema = {
    "type": "object",
    "required": ["bbb"],
    "properties": {
        "bbb": {
            "type": "object",
            "required": ["host", "secret"],
            "properties": {
                "host": HOST,
                "secret": SECRET,
            },
        },
        "settings": {
            "type": "object",
            "description": "Unknown keys are kept",
            "maxProperties": 64,
            "properties": {"tags": TAGS},
        },
        "admin_state": {"type": "string", "enum": list(ADMIN_STATES)},
        "load_factor": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": LOAD_FACTOR_MAX,
        },
        "checksum_algorithm": {"type": "string", "enum": list(ALGORITHMS)},
        "agent_ref": AGENT_REF,
    },
}


def patch_of(schema: Schema) -> Schema:
    """The schema of a PATCH body: nothing required, and null (remove the key) allowed for
    every property of every object."""
    patched: dict[str, Any] = {k: v for k, v in schema.items() if k != "required"}
    if "properties" in schema:
        patched["properties"] = {
            name: {**patch_of(sub), "nullable": True} for name, sub in schema["properties"].items()
        }
    return patched


FRONTEND_PATCH = patch_of(FRONTEND)
BACKEND_PATCH = patch_of(BACKEND)

#: A node agent announcing its node (PUT /agent/backend).
AGENT_BACKEND: Schema = {
    "type": "object",
    "required": ["host", "secret"],
    "properties": {
        "host": HOST,
        "secret": SECRET,
        "load_factor": BACKEND["properties"]["load_factor"],
        "register": {
            "type": "boolean",
            "description": "Create the backend (admin state init) if none is bound to the agent",
        },
    },
}

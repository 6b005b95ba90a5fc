"""Schema-driven tests: schemathesis reads /api/v1/openapi.json from a running ``b3scale serve``
and sends what the document allows (and what it does not) to every operation. Every answer
must be documented (status, content type, body schema), never a 5xx, and data the document
forbids must be refused.

Fixed seed (derandomize) and a bounded number of examples per operation keep CI fast and
repeatable; B3SCALE_SCHEMATHESIS_EXAMPLES raises the bound for a deeper local run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from b3scale.web.api.auth import sign_token
from tests.support.pg import admin_execute, dsn_for
from tests.support.process import Serve

API_SECRET = "schema-test-secret-0123456789abcdef"
EXAMPLES = int(os.environ.get("B3SCALE_SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def running_api(pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"b3scale_schema_{uuid.uuid4().hex[:8]}"
    recordings = tmp_path_factory.mktemp("recordings")
    asyncio.run(admin_execute(pg_admin_dsn, f"CREATE DATABASE {name}"))
    try:
        with Serve(
            B3SCALE_DB_URL=dsn_for(pg_admin_dsn, name),
            B3SCALE_API_JWT_SECRET=API_SECRET,
            B3SCALE_POLL_INTERVAL="300",
            B3SCALE_RECORDINGS_DIR=str(recordings),
        ) as serve:
            serve.wait_healthy()
            yield serve.url
            assert serve.stop() == 0
            assert "Traceback" not in serve.output
    finally:
        asyncio.run(admin_execute(pg_admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


#: A refused bad request is one of these (413: a body over the documented 64 KiB).
REJECTED = ["400", "401", "403", "404", "405", "409", "413"]


def operations(url: str) -> list[Any]:
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
    )
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json", config=config)
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mode", "checks"),
    [
        (GenerationMode.POSITIVE, CHECKS),
        (GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection]),
    ],
    ids=["positive", "negative"],
)
# A node agent's token too: the agent's and the recordings push's endpoints take its input.
@pytest.mark.parametrize("scope", ["b3scale b3scale:admin", "b3scale", "b3scale:node"])
def test_every_operation_answers_as_documented(
    running_api: str, mode: GenerationMode, checks: list[Any], scope: str
) -> None:
    headers = {"Authorization": f"Bearer {sign_token(API_SECRET, 'tenant-1', scope, 3600)}"}
    # Something to find: a frontend and a backend, so ids in paths sometimes exist.
    with requests.Session() as http:
        admin = {"Authorization": f"Bearer {sign_token(API_SECRET, 'x', 'b3scale:admin', 60)}"}
        http.post(
            f"{running_api}/api/v1/frontends",
            json={"bbb": {"key": f"fe-{uuid.uuid4().hex[:6]}", "secret": "abc"}},
            headers=admin,
        )
        # The node token's own backend (its sub), so agent calls get past "not registered".
        http.post(
            f"{running_api}/api/v1/backends",
            json={
                "bbb": {"host": "http://127.0.0.1:9/bigbluebutton/api/", "secret": "abc"},
                "agent_ref": "tenant-1",
            },
            headers=admin,
        )
        tested = 0
        for operation in operations(running_api):
            # The token is given, not generated: a negated (missing) Authorization header would
            # be put back by the session's headers and then look like an accepted bad request.
            @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(
                    base_url=running_api, session=http, headers=headers, checks=checks
                )

            try:
                check()
            except Unsatisfiable:
                # Negative mode: the document allows anything this operation takes (a plain
                # string in the path), so there is nothing wrong to send.
                assert mode is GenerationMode.NEGATIVE
                continue
            tested += 1
    assert tested >= (14 if mode is GenerationMode.POSITIVE else 6)  # all that take input

"""serve's start check of the database's connection budget."""

import pytest

from b3scale.store.db import Database
from b3scale.web.app import warn_if_the_pool_does_not_fit


async def test_serve_warns_when_two_instances_would_not_fit(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    limit, reserved = await db.connection_budget()
    assert (limit, reserved) == (100, 3)  # the throwaway server runs PostgreSQL's defaults
    with caplog.at_level("WARNING"):
        await warn_if_the_pool_does_not_fit(db, 10)
    assert caplog.records == []  # 2 x (10 + 1) = 22 of 97
    with caplog.at_level("WARNING"):
        await warn_if_the_pool_does_not_fit(db, 48)
    [warning] = caplog.records  # 2 x 49 = 98 > 97
    assert warning.__dict__["needed_for_two_instances"] == 98

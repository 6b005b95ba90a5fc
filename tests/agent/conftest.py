"""Fixtures of the node agent's tests: a throwaway Redis of their own."""

from collections.abc import AsyncIterator

import pytest

from tests.support.services import RedisServer


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()

"""Private PostgreSQL and Redis servers as fixtures, for tests that stop them (the chaos
tests, the readiness test). Missing binaries skip the test, or fail it under
REQUIRE_REAL_SERVICES=1 (as CI runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import NoReturn

import pytest
import pytest_asyncio

from payment_service.adapters.db.schema_check import upgrade_to_head
from tests.support.db import real_services_required, record_backend_used
from tests.support.postgres_server import PrivatePostgres, postgres_bin_dir
from tests.support.redis_server import RedisServer


def missing(what: str) -> NoReturn:
    message = f"{what} is not installed; these tests need a private one"
    if real_services_required():
        pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
    pytest.skip(message)


@pytest_asyncio.fixture(loop_scope="session")
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    if postgres_bin_dir() is None:
        missing("PostgreSQL (initdb, pg_ctl)")
    with PrivatePostgres() as postgres:
        await upgrade_to_head(postgres.url)
        record_backend_used("postgresql", f"private, port {postgres.port}")
        yield postgres


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    try:
        redis = RedisServer()
    except RuntimeError as error:
        if "not installed" not in str(error):
            raise
        missing("redis-server")
    record_backend_used("redis")
    try:
        yield redis
    finally:
        redis.stop()

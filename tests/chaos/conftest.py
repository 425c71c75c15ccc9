"""Private dependencies for the chaos tests: each test gets its own PostgreSQL (migrated),
Redis and localstripe, so stopping one (or reading every object of it) touches nothing
another test uses. Missing binaries skip the tests, or fail them under
REQUIRE_REAL_SERVICES=1 (as CI runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import pytest_asyncio

from payment_service.adapters.db.schema_check import upgrade_to_head
from tests.support.db import real_services_required, record_backend_used
from tests.support.localstripe import LocalStripe
from tests.support.postgres_server import PrivatePostgres, postgres_bin_dir
from tests.support.redis_server import RedisServer
from tests.support.server import REPO_ROOT


def _missing(what: str) -> NoReturn:
    message = f"{what} is not installed; the chaos tests need a private one"
    if real_services_required():
        pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _servers_run_this_checkout() -> None:
    """The server subprocesses must import this checkout's code, not another installed copy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    found = subprocess.run(
        [sys.executable, "-c", "import payment_service; print(payment_service.__file__)"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve().is_relative_to(REPO_ROOT), (
        f"server processes would run {found}, not {REPO_ROOT}: set PYTHONPATH"
    )


@pytest_asyncio.fixture(loop_scope="session")
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    if postgres_bin_dir() is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
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
        _missing("redis-server")
    record_backend_used("redis")
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def private_localstripe() -> Iterator[LocalStripe]:
    """Stripe for this test alone: its totals and its event history are this test's."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()

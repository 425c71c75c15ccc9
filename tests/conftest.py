"""Shared fixtures: database backends (SQLite always, PostgreSQL when there), engines, UoWs.

Fixtures:
- ``db_backend``: "sqlite" or "postgresql" (session, parametrized; tests run once per backend)
- ``database_url``: URL of this session's migrated database for the backend
- ``engine``: an AsyncEngine on it (session)
- ``uow_factory``: a SqlUnitOfWorkFactory over ``engine``, all tables emptied first
- ``empty_database_url``: a brand-new empty database (per test), for migration tests
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.encrypted import use_field_cipher
from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.schema_check import upgrade_to_head
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.security.field_cipher import FieldCipher
from tests.support.db import (
    BACKENDS,
    BACKENDS_MISSING,
    BACKENDS_USED,
    POSTGRESQL,
    SQLITE,
    PostgresServer,
    SqliteFiles,
    delete_all_rows,
    postgres_server_url,
    postgres_unreachable_reason,
    real_services_required,
    record_backend_missing,
    record_backend_used,
    redis_reachable,
    redis_url,
)
from tests.support.localstripe import (  # noqa: F401  (shared fixtures)
    gateway,
    localstripe,
    outage_proxy,
    proxied_gateway,
    stripe_outage_proxy,
)
from tests.support.server import TEST_PII_KEY

# Personal data is encrypted at rest: repositories in every test need the key, and
# every Settings built in a test (in-process servers) carries it.
os.environ.setdefault("PAYMENT_PII_ENCRYPTION_KEYS", json.dumps([TEST_PII_KEY]))
use_field_cipher(FieldCipher.from_specs([TEST_PII_KEY]))


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[PostgresServer | None]:
    reason = postgres_unreachable_reason()
    if reason is not None:
        record_backend_missing(POSTGRESQL, reason)
        yield None
        return
    yield PostgresServer(postgres_server_url())


@pytest_asyncio.fixture(scope="session")
async def _postgres_cleanup(_postgres_server: PostgresServer | None) -> AsyncIterator[None]:
    yield
    if _postgres_server is not None:
        await _postgres_server.drop_all()


@pytest.fixture(scope="session")
def _sqlite_files(tmp_path_factory: pytest.TempPathFactory) -> SqliteFiles:
    return SqliteFiles(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session", params=BACKENDS)
def db_backend(request: pytest.FixtureRequest, _postgres_server: PostgresServer | None) -> str:
    name: str = request.param
    if name == POSTGRESQL and _postgres_server is None:
        reason = BACKENDS_MISSING.get(POSTGRESQL, "unreachable")
        shown = make_url(postgres_server_url()).render_as_string(hide_password=True)
        message = f"PostgreSQL at {shown} is not reachable: {reason}"
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
        pytest.skip(message)
    return name


async def _new_empty_database(
    backend: str, sqlite_files: SqliteFiles, postgres: PostgresServer | None
) -> str:
    if backend == SQLITE:
        return sqlite_files.create_database()
    assert postgres is not None
    return await postgres.create_database()


@pytest_asyncio.fixture(scope="session")
async def database_url(
    db_backend: str,
    _sqlite_files: SqliteFiles,
    _postgres_server: PostgresServer | None,
    _postgres_cleanup: None,
) -> AsyncIterator[str]:
    url = await _new_empty_database(db_backend, _sqlite_files, _postgres_server)
    await upgrade_to_head(url)
    record_backend_used(db_backend, url.rpartition("/")[2])
    yield url


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db_engine = create_engine(database_url, pool_size=5, max_overflow=5)
    yield db_engine
    await db_engine.dispose()


@pytest_asyncio.fixture
async def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    await delete_all_rows(engine)
    return SqlUnitOfWorkFactory(engine)


@pytest_asyncio.fixture
async def empty_database_url(
    db_backend: str,
    _sqlite_files: SqliteFiles,
    _postgres_server: PostgresServer | None,
    _postgres_cleanup: None,
) -> AsyncIterator[str]:
    url = await _new_empty_database(db_backend, _sqlite_files, _postgres_server)
    record_backend_used(db_backend)
    yield url
    if db_backend == POSTGRESQL and _postgres_server is not None:
        await _postgres_server.drop_database(url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    parts = []
    for name in BACKENDS:
        if name in BACKENDS_USED:
            where = BACKENDS_USED[name]
            parts.append(f"{name}: ran" + (f" ({where})" if where else ""))
        elif name in BACKENDS_MISSING:
            parts.append(f"{name}: NOT AVAILABLE ({BACKENDS_MISSING[name]})")
        else:
            parts.append(f"{name}: not used")
    if "redis" in BACKENDS_USED:
        parts.append("redis: ran")
    else:
        state = "reachable, not used" if redis_reachable() else "NOT AVAILABLE"
        target = urlparse(redis_url())
        parts.append(f"redis: {state} ({target.hostname}:{target.port or 6379})")
    terminalreporter.write_sep("-", "backends")
    terminalreporter.write_line("; ".join(parts))

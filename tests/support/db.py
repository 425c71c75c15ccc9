"""Test database backends: SQLite always, PostgreSQL when reachable (or required).

Each test session gets its own PostgreSQL database (``ps_test_<random>``), created
through the server's ``test`` database and dropped at the end, so parallel runs on
one server never collide. ``REQUIRE_REAL_SERVICES=1`` turns "PostgreSQL missing"
from a skip into a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.tables import metadata

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
BACKENDS = (SQLITE, POSTGRESQL)
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def real_services_required() -> bool:
    return os.environ.get("REQUIRE_REAL_SERVICES", "") not in ("", "0", "false", "no")


def postgres_server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def libpq_conninfo(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` → the plain ``postgresql://…`` psycopg connects to."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def with_database(sqlalchemy_url: str, database: str) -> str:
    return make_url(sqlalchemy_url).set(database=database).render_as_string(hide_password=False)


def postgres_unreachable_reason() -> str | None:
    """None when the test PostgreSQL server answers, else why not (checked once per session)."""
    try:
        with psycopg.connect(libpq_conninfo(postgres_server_url()), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, OSError) as error:
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    return None


@dataclass
class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    server_url: str
    prefix: str = field(default_factory=lambda: f"ps_test_{secrets.token_hex(4)}")
    _created: list[str] = field(default_factory=list)
    _counter: int = 0

    async def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        self._counter += 1
        name = self.prefix if self._counter == 1 else f"{self.prefix}_{self._counter}"
        async with await psycopg.AsyncConnection.connect(
            libpq_conninfo(self.server_url), autocommit=True
        ) as conn:
            await conn.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return with_database(self.server_url, name)

    async def drop_database(self, url: str) -> None:
        name = make_url(url).database
        assert name is not None
        assert name.startswith(self.prefix)
        async with await psycopg.AsyncConnection.connect(
            libpq_conninfo(self.server_url), autocommit=True
        ) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.remove(name)

    async def drop_all(self) -> None:
        for name in list(self._created):
            await self.drop_database(with_database(self.server_url, name))


@dataclass
class SqliteFiles:
    directory: Path
    _counter: int = 0

    def create_database(self) -> str:
        self._counter += 1
        return f"sqlite+aiosqlite:///{self.directory / f'test_{self._counter}.db'}"


async def delete_all_rows(engine: AsyncEngine) -> None:
    """Empty every application table (children first); the schema stays."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # audit_log is append-only (migration 0008); only a superuser's replica-mode
            # session gets past its triggers.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL


def redis_reachable(url: str | None = None) -> bool:
    parsed = urlparse(url or redis_url())
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


# Backends that served at least one test in this session; shown in the terminal summary.
# Fixtures for other services (e.g. Redis) call ``record_backend_used`` too.
BACKENDS_USED: dict[str, str] = {}
BACKENDS_MISSING: dict[str, str] = {}


def record_backend_used(name: str, where: str = "") -> None:
    BACKENDS_USED.setdefault(name, where)


def record_backend_missing(name: str, reason: str) -> None:
    BACKENDS_MISSING.setdefault(name, reason)

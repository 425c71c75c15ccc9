"""Async engines for PostgreSQL (``postgresql+psycopg://``) and SQLite (``sqlite+aiosqlite:///``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from payment_service.adapters.db.pool import PoolObserver, measured_pool_class

# Execution option read when a SQLite transaction begins: "IMMEDIATE" (default) or "DEFERRED".
SQLITE_BEGIN_MODE = "payment_service_sqlite_begin"
_SQLITE_BEGIN_MODES = frozenset({"IMMEDIATE", "DEFERRED"})


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_s: float = 5.0,
    statement_timeout_ms: int = 5000,
    echo: bool = False,
    pool_observer: PoolObserver | None = None,
) -> AsyncEngine:
    """Build the engine with the settings this service relies on.

    ``pool_observer`` is told of every checkout that waited for a connection (pool.py).

    PostgreSQL: ``statement_timeout`` and UTC session time zone on every connection.
    SQLite: WAL, foreign keys on, a busy timeout, and every write transaction
    starting with ``BEGIN IMMEDIATE`` so read-then-write transactions serialize.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(
            url, pool_size, max_overflow, pool_timeout_s, statement_timeout_ms, echo, pool_observer
        )
    options = f"-c TimeZone=UTC -c statement_timeout={int(statement_timeout_ms)}"
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        echo=echo,
        connect_args={"options": options},
        **_pool_class(pool_observer, max_overflow),
    )


def _pool_class(observer: PoolObserver | None, max_overflow: int) -> dict[str, Any]:
    return {} if observer is None else {"poolclass": measured_pool_class(observer, max_overflow)}


def _sqlite_engine(
    url: str,
    pool_size: int,
    max_overflow: int,
    pool_timeout_s: float,
    busy_timeout_ms: int,
    echo: bool,
    pool_observer: PoolObserver | None,
) -> AsyncEngine:
    parsed = make_url(url)
    in_memory = parsed.database in (None, "", ":memory:")
    pool_args: dict[str, Any] = (
        {}
        if in_memory
        else {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout_s,
            **_pool_class(pool_observer, max_overflow),
        }
    )
    busy_ms = busy_timeout_ms or 5000
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": busy_ms / 1000}, **pool_args
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not BEGIN on its own: we do it in "begin" below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_MODE, "IMMEDIATE")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"unknown SQLite begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine

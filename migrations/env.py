"""Alembic environment: async engines for PostgreSQL and SQLite, batch mode on SQLite.

The URL is ``sqlalchemy.url`` when a caller set it (see ``schema_check.upgrade_to_head``),
else the ``PAYMENT_DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.tables import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("PAYMENT_DATABASE_URL")
    if not url:
        raise RuntimeError(
            "set PAYMENT_DATABASE_URL (or sqlalchemy.url) to the database to migrate"
        )
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_on(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _run_on_sqlite(connection: Connection) -> None:
    """Batch mode copies a table, drops it and renames the copy: with foreign keys on,
    dropping a table other rows reference fails (or leaves SQLite's deferred-violation
    count up). So foreign keys are off while migrating (a pragma that only works outside
    a transaction) and checked once before the migration commits."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.cursor().execute("PRAGMA foreign_keys=OFF")
    try:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration leaves rows with dangling references: {broken}")
    finally:
        raw.cursor().execute("PRAGMA foreign_keys=ON")


async def _run_online() -> None:
    engine = create_engine(_database_url(), pool_size=1, max_overflow=0, statement_timeout_ms=0)
    try:
        async with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            await connection.run_sync(_run_on_sqlite if sqlite else _run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (given := config.attributes.get("connection")) is not None:
    _run_on(given)
else:
    asyncio.run(_run_online())

"""Alembic on an empty database of each backend, and the start-up schema check."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.schema_check import (
    SchemaNotCurrent,
    current_revision,
    downgrade_to_base,
    ensure_schema_current,
    head_revision,
    upgrade_to_head,
)
from payment_service.adapters.db.tables import metadata

APP_TABLES = set(metadata.tables)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade_to_head(empty_database_url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) >= APP_TABLES
        await downgrade_to_base(empty_database_url)
        async with engine.connect() as conn:
            assert not APP_TABLES & await conn.run_sync(_tables)
        await upgrade_to_head(empty_database_url)
        assert await current_revision(engine) == head_revision()
        await ensure_schema_current(engine)
    finally:
        await engine.dispose()


async def test_migrations_build_exactly_the_tables_the_code_uses(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


async def test_schema_check_refuses_a_database_behind_head(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(SchemaNotCurrent, match="none"):
            await ensure_schema_current(engine)
        await upgrade_to_head(empty_database_url, revision="0004")
        with pytest.raises(SchemaNotCurrent) as info:
            await ensure_schema_current(engine)
        message = str(info.value)
        assert "revision 0004" in message
        assert f"needs {head_revision()}" in message
        assert "payment-service migrate" in message
    finally:
        await engine.dispose()

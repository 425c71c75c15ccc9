"""Alembic on an empty database of each backend, and the start-up schema check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
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


_OLD_ROWS = [
    "INSERT INTO customers (id, account_id, stripe_customer_id, create_time, update_time) "
    "VALUES ('cust_m', 'acct_m', 'cus_m', :t, :t)",
    "INSERT INTO prices (id, stripe_price_id, product_name, unit_amount, currency, interval, "
    "interval_count, active, create_time, update_time) "
    "VALUES ('price_m', 'price_s', 'Pro', 1999, 'eur', 'month', 1, true, :t, :t)",
    "INSERT INTO subscriptions (id, account_id, customer_id, caller, request_id, request_hash, "
    "stripe_subscription_id, price_id, stripe_price_id, quantity, state, cancel_at_period_end, "
    "current_period_start, current_period_end, metadata, create_time, update_time, version) "
    "VALUES ('subn_m', 'acct_m', 'cust_m', 'svc', 'req_m', 'h', 'sub_m', 'price_m', 'price_s', "
    "3, 'active', false, :t, :end, '{}', :t, :t, 4)",
    "INSERT INTO invoices (id, account_id, customer_id, subscription_id, stripe_invoice_id, "
    "state, currency, amount_due, amount_paid, amount_remaining, subtotal, total, lines, "
    "create_time, update_time) VALUES ('inv_m', 'acct_m', 'cust_m', 'subn_m', 'in_m', 'open', "
    "'eur', 1, 0, 1, 1, 1, '[]', :t, :t)",
]


async def test_0006_moves_a_subscriptions_price_into_its_items_and_back(
    empty_database_url: str,
) -> None:
    """Rows written before 0006 keep their price, quantity and period as one item (and
    get them back on downgrade); rows that reference them stay valid."""
    from payment_service.adapters.db.uow import SqlUnitOfWork
    from payment_service.domain.entities import SubscriptionItem

    t0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    end = t0 + timedelta(days=30)
    engine = create_engine(empty_database_url)
    try:
        await upgrade_to_head(empty_database_url, revision="0005")
        async with engine.begin() as conn:
            for statement in _OLD_ROWS:
                await conn.execute(text(statement), {"t": t0, "end": end})
        await upgrade_to_head(empty_database_url)
        async with SqlUnitOfWork(engine) as uow:
            s = await uow.subscriptions.get("subn_m")
            i = await uow.invoices.get("inv_m")
        assert s is not None
        assert i is not None
        assert s.items == [
            SubscriptionItem(
                price_id="price_m",
                stripe_price_id="price_s",
                quantity=3,
                current_period_start=t0,
                current_period_end=end,
            )
        ]
        assert (s.stripe_customer_id, s.version, i.version, i.attempt_count) == ("cus_m", 4, 0, 0)
        await downgrade_to_base(empty_database_url, revision="0005")
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT price_id, quantity FROM subscriptions WHERE id = 'subn_m'")
                )
            ).one()
        assert tuple(row) == ("price_m", 3)
    finally:
        await engine.dispose()

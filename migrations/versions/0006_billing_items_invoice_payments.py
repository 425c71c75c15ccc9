"""billing: subscription items and pending actions, invoice payments, price products

Subscriptions keep their prices in an ``items`` JSON list (price, quantity and period
per item) instead of the ``price_id``/``stripe_price_id``/``quantity`` and period
columns; existing rows get one item made of those columns (and back on downgrade).
SQLite alters tables in batch mode (copy, drop, rename); env.py turns its foreign keys
off for that and checks them before committing.
Payments name the invoice they pay; invoices, subscriptions and prices gain the
fields Stripe's current API reports.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
PAUSE_BEHAVIORS = "'void', 'keep_as_draft', 'mark_uncollectible'"
_ITEM_TIMES = ("current_period_start", "current_period_end")

_old_subscriptions = sa.table(
    "subscriptions",
    sa.column("id", sa.String(40)),
    sa.column("price_id", sa.String(40)),
    sa.column("stripe_price_id", sa.String(255)),
    sa.column("quantity", sa.Integer()),
    sa.column("current_period_start", TIME),
    sa.column("current_period_end", TIME),
    sa.column("items", sa.JSON()),
)


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return str(aware.astimezone(UTC).isoformat())


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def upgrade() -> None:
    with op.batch_alter_table("prices") as batch:
        batch.add_column(sa.Column("stripe_product_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("remote_updated_at", TIME, nullable=True))
        batch.create_index(op.f("ix_prices_stripe_product_id"), ["stripe_product_id"])
    _upgrade_subscriptions()
    _upgrade_invoices()
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("invoice_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_transactions_invoice_id_invoices"), "invoices", ["invoice_id"], ["id"]
        )
        batch.create_index(op.f("ix_transactions_invoice_id"), ["invoice_id"])


def _upgrade_subscriptions() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("stripe_customer_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("default_payment_method", sa.String(255), nullable=True))
        batch.add_column(sa.Column("trial_period_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cancel_at", TIME, nullable=True))
        batch.add_column(sa.Column("pause_behavior", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pause_resumes_at", TIME, nullable=True))
        batch.add_column(sa.Column("trial_will_end_notice_at", TIME, nullable=True))
        batch.add_column(sa.Column("stripe_latest_invoice_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("pending_action", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("lease_until", TIME, nullable=True))
        batch.add_column(sa.Column("synced_at", TIME, nullable=True))
    _subscription_items_from_columns()
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column("stripe_customer_id", existing_type=sa.String(255), nullable=False)
        batch.alter_column("items", existing_type=sa.JSON(), nullable=False)
        batch.drop_constraint(op.f("ck_subscriptions_quantity_positive"), type_="check")
        batch.drop_constraint(op.f("fk_subscriptions_price_id_prices"), type_="foreignkey")
        for name in ("price_id", "stripe_price_id", "quantity", *_ITEM_TIMES):
            batch.drop_column(name)
        batch.create_check_constraint(
            op.f("ck_subscriptions_pause_behavior"), f"pause_behavior IN ({PAUSE_BEHAVIORS})"
        )
        batch.create_index(op.f("ix_subscriptions_state_create_time"), ["state", "create_time"])
        batch.create_index(op.f("ix_subscriptions_synced_at"), ["synced_at"])


def _subscription_items_from_columns() -> None:
    bind = op.get_bind()
    op.execute(
        "UPDATE subscriptions SET stripe_customer_id = COALESCE(("
        "SELECT customers.stripe_customer_id FROM customers "
        "WHERE customers.id = subscriptions.customer_id), '')"
    )
    for row in bind.execute(sa.select(_old_subscriptions)).mappings().all():
        item = {
            "price_id": row["price_id"],
            "stripe_price_id": row["stripe_price_id"],
            "quantity": row["quantity"],
            "stripe_item_id": None,
            **{name: _iso(row[name]) for name in _ITEM_TIMES},
        }
        bind.execute(
            _old_subscriptions.update()
            .where(_old_subscriptions.c.id == row["id"])
            .values(items=[item])
        )


def _upgrade_invoices() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("stripe_subscription_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("billing_reason", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("attempt_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("stripe_payment_intent_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("payment_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("synced_at", TIME, nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("invoices") as batch:
        batch.alter_column("attempt_count", existing_type=sa.Integer(), server_default=None)
        batch.alter_column("version", existing_type=sa.Integer(), server_default=None)
        batch.create_index(
            op.f("ix_invoices_subscription_id_create_time_id"),
            ["subscription_id", "create_time", "id"],
        )
        batch.create_index(op.f("ix_invoices_synced_at"), ["synced_at"])


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index(op.f("ix_transactions_invoice_id"))
        batch.drop_constraint(op.f("fk_transactions_invoice_id_invoices"), type_="foreignkey")
        batch.drop_column("invoice_id")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_index(op.f("ix_invoices_synced_at"))
        batch.drop_index(op.f("ix_invoices_subscription_id_create_time_id"))
        for name in (
            "version",
            "synced_at",
            "payment_id",
            "stripe_payment_intent_id",
            "attempt_count",
            "billing_reason",
            "stripe_subscription_id",
        ):
            batch.drop_column(name)
    _downgrade_subscriptions()
    with op.batch_alter_table("prices") as batch:
        batch.drop_index(op.f("ix_prices_stripe_product_id"))
        batch.drop_column("remote_updated_at")
        batch.drop_column("stripe_product_id")


def _downgrade_subscriptions() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index(op.f("ix_subscriptions_synced_at"))
        batch.drop_index(op.f("ix_subscriptions_state_create_time"))
        batch.drop_constraint(op.f("ck_subscriptions_pause_behavior"), type_="check")
        batch.add_column(sa.Column("price_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("stripe_price_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("quantity", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("current_period_start", TIME, nullable=True))
        batch.add_column(sa.Column("current_period_end", TIME, nullable=True))
    _subscription_columns_from_first_item()
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column("price_id", existing_type=sa.String(40), nullable=False)
        batch.alter_column("stripe_price_id", existing_type=sa.String(255), nullable=False)
        batch.alter_column("quantity", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_subscriptions_price_id_prices"), "prices", ["price_id"], ["id"]
        )
        batch.create_check_constraint(op.f("ck_subscriptions_quantity_positive"), "quantity > 0")
        for name in (
            "synced_at",
            "lease_until",
            "pending_action",
            "stripe_latest_invoice_id",
            "trial_will_end_notice_at",
            "pause_resumes_at",
            "pause_behavior",
            "cancel_at",
            "trial_period_days",
            "default_payment_method",
            "items",
            "stripe_customer_id",
        ):
            batch.drop_column(name)


def _subscription_columns_from_first_item() -> None:
    """Each row keeps its first item (the schema before had room for one price)."""
    bind = op.get_bind()
    for row in bind.execute(sa.select(_old_subscriptions)).mappings().all():
        item = (row["items"] or [{}])[0]
        bind.execute(
            _old_subscriptions.update()
            .where(_old_subscriptions.c.id == row["id"])
            .values(
                price_id=item.get("price_id"),
                stripe_price_id=item.get("stripe_price_id"),
                quantity=item.get("quantity"),
                **{name: _moment(item.get(name)) for name in _ITEM_TIMES},
            )
        )

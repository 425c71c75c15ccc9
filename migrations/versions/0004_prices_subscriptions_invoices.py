"""prices, subscriptions and invoices

Revision ID: 0004
Revises: 0003
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
SUBSCRIPTION_STATES = (
    "'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid', "
    "'canceled', 'paused'"
)


def upgrade() -> None:
    op.create_table(
        "prices",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("stripe_price_id", sa.String(255), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("interval", sa.Text(), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
        sa.UniqueConstraint("stripe_price_id", name=op.f("uq_prices_stripe_price_id")),
        sa.CheckConstraint(
            "interval IN ('day', 'week', 'month', 'year')", name=op.f("ck_prices_interval")
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(255), nullable=True),
        sa.Column("price_id", sa.String(40), nullable=False),
        sa.Column("stripe_price_id", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("current_period_start", TIME, nullable=True),
        sa.Column("current_period_end", TIME, nullable=True),
        sa.Column("trial_start", TIME, nullable=True),
        sa.Column("trial_end", TIME, nullable=True),
        sa.Column("canceled_at", TIME, nullable=True),
        sa.Column("latest_invoice_id", sa.String(40), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("remote_updated_at", TIME, nullable=True),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_subscriptions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["price_id"], ["prices.id"], name=op.f("fk_subscriptions_price_id_prices")
        ),
        sa.UniqueConstraint(
            "caller", "request_id", name=op.f("uq_subscriptions_caller_request_id")
        ),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_subscriptions_stripe_subscription_id")
        ),
        sa.CheckConstraint(
            f"state IN ({SUBSCRIPTION_STATES})", name=op.f("ck_subscriptions_state")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_subscriptions_quantity_positive")),
    )
    op.create_index(
        op.f("ix_subscriptions_account_id_create_time_id"),
        "subscriptions",
        ["account_id", "create_time", "id"],
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=True),
        sa.Column("stripe_invoice_id", sa.String(255), nullable=False),
        sa.Column("number", sa.String(64), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("amount_remaining", sa.BigInteger(), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
        sa.Column("invoice_pdf_url", sa.Text(), nullable=True),
        sa.Column("period_start", TIME, nullable=True),
        sa.Column("period_end", TIME, nullable=True),
        sa.Column("due_time", TIME, nullable=True),
        sa.Column("paid_time", TIME, nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("remote_updated_at", TIME, nullable=True),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_invoices_subscription_id_subscriptions"),
        ),
        sa.UniqueConstraint("stripe_invoice_id", name=op.f("uq_invoices_stripe_invoice_id")),
        sa.CheckConstraint(
            "state IN ('draft', 'open', 'paid', 'void', 'uncollectible')",
            name=op.f("ck_invoices_state"),
        ),
    )
    op.create_index(
        op.f("ix_invoices_account_id_create_time_id"),
        "invoices",
        ["account_id", "create_time", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_invoices_account_id_create_time_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(op.f("ix_subscriptions_account_id_create_time_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("prices")

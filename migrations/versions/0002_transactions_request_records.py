"""transactions (payments) and request_records

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
PAYMENT_STATES = (
    "'pending', 'requires_payment_method', 'requires_confirmation', 'requires_action', "
    "'processing', 'requires_capture', 'succeeded', 'canceled', 'failed'"
)


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=True),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("amount_capturable", sa.BigInteger(), nullable=False),
        sa.Column("amount_received", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("stripe_amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("capture_method", sa.Text(), nullable=False),
        sa.Column("payment_method", sa.String(255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("receipt_email", sa.Text(), nullable=True),
        sa.Column("receipt_url", sa.Text(), nullable=True),
        sa.Column("client_secret", sa.Text(), nullable=True),
        sa.Column("next_action_type", sa.String(64), nullable=True),
        sa.Column("next_action_url", sa.Text(), nullable=True),
        sa.Column("last_error_code", sa.String(64), nullable=True),
        sa.Column("last_error_decline_code", sa.String(64), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("stripe_payment_intent_id", sa.String(255), nullable=True),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("confirm_on_create", sa.Boolean(), nullable=False),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("remote_updated_at", TIME, nullable=True),
        sa.Column("synced_at", TIME, nullable=True),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_transactions_customer_id_customers")
        ),
        sa.UniqueConstraint("caller", "request_id", name=op.f("uq_transactions_caller_request_id")),
        sa.UniqueConstraint(
            "stripe_payment_intent_id", name=op.f("uq_transactions_stripe_payment_intent_id")
        ),
        sa.CheckConstraint(f"state IN ({PAYMENT_STATES})", name=op.f("ck_transactions_state")),
        sa.CheckConstraint(
            "capture_method IN ('automatic', 'manual')", name=op.f("ck_transactions_capture_method")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_transactions_amount_positive")),
        sa.CheckConstraint(
            "amount_refunded >= 0", name=op.f("ck_transactions_amount_refunded_not_negative")
        ),
        sa.CheckConstraint(
            "stripe_amount_refunded >= 0",
            name=op.f("ck_transactions_stripe_amount_refunded_not_negative"),
        ),
    )
    op.create_index(
        op.f("ix_transactions_account_id_create_time_id"),
        "transactions",
        ["account_id", "create_time", "id"],
    )
    op.create_index(
        op.f("ix_transactions_state_create_time"), "transactions", ["state", "create_time"]
    )
    op.create_table(
        "request_records",
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("caller", "request_id", name=op.f("pk_request_records")),
    )


def downgrade() -> None:
    op.drop_table("request_records")
    op.drop_index(op.f("ix_transactions_state_create_time"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_account_id_create_time_id"), table_name="transactions")
    op.drop_table("transactions")

"""refunds

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=True),
        sa.Column("stripe_refund_id", sa.String(255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("remote_updated_at", TIME, nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("synced_at", TIME, nullable=True),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["transactions.id"], name=op.f("fk_refunds_payment_id_transactions")
        ),
        sa.UniqueConstraint("caller", "request_id", name=op.f("uq_refunds_caller_request_id")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_refunds_stripe_refund_id")),
        sa.CheckConstraint(
            "state IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_refunds_state"),
        ),
        sa.CheckConstraint(
            "reason IN ('duplicate', 'fraudulent', 'requested_by_customer')",
            name=op.f("ck_refunds_reason"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
    )
    op.create_index(
        op.f("ix_refunds_account_id_create_time_id"), "refunds", ["account_id", "create_time", "id"]
    )
    op.create_index(
        op.f("ix_refunds_payment_id_create_time_id"), "refunds", ["payment_id", "create_time", "id"]
    )
    op.create_index(op.f("ix_refunds_state_create_time"), "refunds", ["state", "create_time"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refunds_state_create_time"), table_name="refunds")
    op.drop_index(op.f("ix_refunds_payment_id_create_time_id"), table_name="refunds")
    op.drop_index(op.f("ix_refunds_account_id_create_time_id"), table_name="refunds")
    op.drop_table("refunds")

"""disputes and setup intents; payments charged off-session, saved for later, disputed

Disputes mirror Stripe's (their text evidence encrypted, as personal data); SetupIntents
save a card for later payments. Payments gain ``off_session``, ``setup_future_usage``, the
latest dispute's id and whether that dispute forbids refunds (existing rows: not
off-session, nothing saved, never disputed).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
USAGES = "'on_session', 'off_session'"
DISPUTE_STATES = (
    "'warning_needs_response', 'warning_under_review', 'warning_closed', "
    "'needs_response', 'under_review', 'won', 'lost'"
)
SETUP_INTENT_STATES = (
    "'pending', 'requires_payment_method', 'requires_confirmation', 'requires_action', "
    "'processing', 'succeeded', 'canceled', 'failed'"
)


def _mirror_and_times(*, lease: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [sa.Column("lease_until", TIME)] if lease else []
    return [
        *columns,
        sa.Column("remote_updated_at", TIME),
        sa.Column("synced_at", TIME),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(
            sa.Column("off_session", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("setup_future_usage", sa.Text()))
        batch.add_column(sa.Column("dispute_id", sa.String(40)))
        batch.add_column(
            sa.Column(
                "refund_blocked_by_dispute",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch.create_check_constraint(
            op.f("ck_transactions_setup_future_usage"), f"setup_future_usage IN ({USAGES})"
        )
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column("off_session", server_default=None)
        batch.alter_column("refund_blocked_by_dispute", server_default=None)
    _create_disputes()
    _create_setup_intents()


def _create_disputes() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(255), nullable=False),
        sa.Column("stripe_charge_id", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("evidence_due_by", TIME),
        sa.Column("evidence_submitted", sa.Boolean(), nullable=False),
        sa.Column("funds_withdrawn", sa.Boolean(), nullable=False),
        sa.Column("funds_reinstated", sa.Boolean(), nullable=False),
        sa.Column("payment_refundable", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        *_mirror_and_times(lease=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["transactions.id"], name=op.f("fk_disputes_payment_id_transactions")
        ),
        sa.UniqueConstraint("stripe_dispute_id", name=op.f("uq_disputes_stripe_dispute_id")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_disputes_amount_positive")),
        sa.CheckConstraint(f"state IN ({DISPUTE_STATES})", name=op.f("ck_disputes_state")),
    )
    op.create_index(
        op.f("ix_disputes_account_id_create_time_id"),
        "disputes",
        ["account_id", "create_time", "id"],
    )
    op.create_index(
        op.f("ix_disputes_payment_id_create_time_id"),
        "disputes",
        ["payment_id", "create_time", "id"],
    )
    op.create_index(
        op.f("ix_disputes_state_evidence_due_by"), "disputes", ["state", "evidence_due_by"]
    )


def _create_setup_intents() -> None:
    op.create_table(
        "setup_intents",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("stripe_setup_intent_id", sa.String(255)),
        sa.Column("stripe_customer_id", sa.String(255)),
        sa.Column("stripe_payment_method_id", sa.String(255)),
        sa.Column("payment_method_id", sa.String(40)),
        sa.Column("client_secret", sa.Text()),
        sa.Column("next_action_type", sa.String(64)),
        sa.Column("next_action_url", sa.Text()),
        sa.Column("last_error_code", sa.String(64)),
        sa.Column("last_error_decline_code", sa.String(64)),
        sa.Column("last_error_message", sa.Text()),
        *_mirror_and_times(lease=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_intents")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_setup_intents_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["payment_method_id"],
            ["payment_methods.id"],
            name=op.f("fk_setup_intents_payment_method_id_payment_methods"),
        ),
        sa.UniqueConstraint(
            "caller", "request_id", name=op.f("uq_setup_intents_caller_request_id")
        ),
        sa.UniqueConstraint(
            "stripe_setup_intent_id", name=op.f("uq_setup_intents_stripe_setup_intent_id")
        ),
        sa.CheckConstraint(f"usage IN ({USAGES})", name=op.f("ck_setup_intents_usage")),
        sa.CheckConstraint(
            f"state IN ({SETUP_INTENT_STATES})", name=op.f("ck_setup_intents_state")
        ),
    )
    op.create_index(
        op.f("ix_setup_intents_account_id_create_time_id"),
        "setup_intents",
        ["account_id", "create_time", "id"],
    )
    op.create_index(
        op.f("ix_setup_intents_state_create_time"), "setup_intents", ["state", "create_time"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_setup_intents_state_create_time"), table_name="setup_intents")
    op.drop_index(op.f("ix_setup_intents_account_id_create_time_id"), table_name="setup_intents")
    op.drop_table("setup_intents")
    op.drop_index(op.f("ix_disputes_state_evidence_due_by"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_payment_id_create_time_id"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_account_id_create_time_id"), table_name="disputes")
    op.drop_table("disputes")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_constraint(op.f("ck_transactions_setup_future_usage"), type_="check")
        batch.drop_column("refund_blocked_by_dispute")
        batch.drop_column("dispute_id")
        batch.drop_column("setup_future_usage")
        batch.drop_column("off_session")

"""webhook_events, reconciler_state and audit_log

Revision ID: 0005
Revises: 0004
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("stripe_event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("processed_at", TIME, nullable=True),
        sa.Column("receive_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("stripe_event_id", name=op.f("uq_webhook_events_stripe_event_id")),
        sa.CheckConstraint(
            "state IN ('received', 'processed', 'failed', 'dead', 'quarantined', 'ignored')",
            name=op.f("ck_webhook_events_state"),
        ),
    )
    op.create_index(
        op.f("ix_webhook_events_state_next_attempt_at"),
        "webhook_events",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_webhook_events_receive_time_id"), "webhook_events", ["receive_time", "id"]
    )
    op.create_table(
        "reconciler_state",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_reconciler_state")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        op.f("ix_audit_log_object_type_object_id_time"),
        "audit_log",
        ["object_type", "object_id", "time"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_object_type_object_id_time"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("reconciler_state")
    op.drop_index(op.f("ix_webhook_events_receive_time_id"), table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_state_next_attempt_at"), table_name="webhook_events")
    op.drop_table("webhook_events")

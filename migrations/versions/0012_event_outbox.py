"""event_outbox: the transactional outbox of callers' events

One row per state change of a payment, refund, payment method, subscription, invoice or
dispute, written in the change's own transaction; ``position`` orders them all (an
identity on PostgreSQL, AUTOINCREMENT on SQLite: a position is never reused).

Revision ID: 0012
Revises: 0010 (to be chained after 0011 on merge)
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("snapshot_type", sa.String(64), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("trace_parent", sa.String(64)),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_event_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_event_outbox_account_id_position"), "event_outbox", ["account_id", "position"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_event_outbox_account_id_position"), table_name="event_outbox")
    op.drop_table("event_outbox")

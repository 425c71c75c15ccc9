"""event_outbox: the transactional outbox of callers' events

One row per state change of a payment, refund, payment method, subscription, invoice or
dispute, written in the change's own transaction; ``position`` orders them all (an
identity on PostgreSQL, AUTOINCREMENT on SQLite: a position is never reused). On
PostgreSQL a statement trigger NOTIFYs ``payment_events`` on each insert (delivered at
commit, once per transaction): the readers' wake-up, costing the writer no round trip.

Revision ID: 0012
Revises: 0011
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

_NOTIFY_FUNCTION = """
CREATE FUNCTION event_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payment_events', '');
    RETURN NULL;
END
$$
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox
FOR EACH STATEMENT EXECUTE FUNCTION event_outbox_notify()
"""


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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NOTIFY_FUNCTION)
        op.execute(_NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_outbox_notify ON event_outbox")
        op.execute("DROP FUNCTION IF EXISTS event_outbox_notify()")
    op.drop_index(op.f("ix_event_outbox_account_id_position"), table_name="event_outbox")
    op.drop_table("event_outbox")

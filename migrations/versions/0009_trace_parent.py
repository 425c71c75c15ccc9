"""the trace that caused a row: payments and webhook events keep the W3C traceparent

Work done later for them (the reconciler finishing a PENDING payment, a retry of a stored
webhook event) links its spans to the trace of the request or delivery that made them.
Nullable: rows from before, and rows made outside any trace, have none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("transactions", "webhook_events")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("trace_parent", sa.String(64)))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("trace_parent")

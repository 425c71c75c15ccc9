"""webhook events know their object: stored events are applied in order per Stripe object

``object_id`` is the Stripe id of the event's ``data.object``; the appliers take an event
only when no earlier event of the same object is still waiting. Existing rows keep NULL
(they have no predecessors to wait for).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_events", sa.Column("object_id", sa.String(255), nullable=True))
    op.create_index(
        op.f("ix_webhook_events_object_id_created"), "webhook_events", ["object_id", "created"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_events_object_id_created"), table_name="webhook_events")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("object_id")

"""audit rows name the request (account, request id, peer, certificate) and are append-only

Four nullable columns tell which RPC wrote a row, with indexes for the lookups
``payment-service audit`` makes (by account and time, by time). On PostgreSQL, triggers
refuse every UPDATE, DELETE and TRUNCATE of ``audit_log``, for every role the service
may run as (grants do not bind the owner or a superuser; triggers do). Only a
superuser's session with ``session_replication_role = replica`` (which the service's
role cannot set) gets past them, for test clean-up and disaster recovery. SQLite, the
embedded development default, has no such guard.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = """
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("account_id", sa.String(255)))
        batch.add_column(sa.Column("request_id", sa.String(255)))
        batch.add_column(sa.Column("peer", sa.String(255)))
        batch.add_column(sa.Column("certificate", sa.String(512)))
    op.create_index(
        op.f("ix_audit_log_account_id_time"), "audit_log", ["account_id", "time"], unique=False
    )
    op.create_index(op.f("ix_audit_log_time"), "audit_log", ["time"], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_REFUSE)
    op.execute(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION audit_log_is_append_only()")
    op.drop_index(op.f("ix_audit_log_time"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_account_id_time"), table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("certificate")
        batch.drop_column("peer")
        batch.drop_column("request_id")
        batch.drop_column("account_id")

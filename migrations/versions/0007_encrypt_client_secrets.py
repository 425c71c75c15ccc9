"""encrypt client secrets at rest

A PaymentIntent's ``client_secret`` lets whoever holds it confirm the payment from a
browser; it was stored in clear in ``transactions.client_secret``, in the 3-D Secure
redirect URL (``transactions.next_action_url``, where Stripe puts it as a query
parameter) and in subscriptions' ``pending_action`` (JSON holding both). They become
AES-256-GCM values like the other personal data (``pii1.<key id>.…``, the column bound
in): ``pending_action`` turns into TEXT holding its encrypted JSON, and the values already
stored are encrypted in place, a batch of rows at a time. A JSON ``null`` (how a missing
pending action was written before) becomes NULL.

Encrypting needs the service's PII keys: the process's cipher when one is installed (the
service, the tests), else ``PAYMENT_PII_ENCRYPTION_KEYS`` (and ``PAYMENT_PII_ACTIVE_KEY_ID``)
from the environment. A database with nothing to encrypt needs no key. Downgrade decrypts
the values again (with the same keys) and turns ``pending_action`` back into JSON.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from payment_service.security.field_cipher import FieldCipher, installed_field_cipher

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_ROWS = 500
# (table, column); the column's name is its encryption context, as in tables.py.
SECRET_COLUMNS = (
    ("transactions", "client_secret"),
    ("transactions", "next_action_url"),
    ("subscriptions", "pending_action"),
)
_JSON_NULL = "null"

Rewrite = Callable[[str], str | None]


def _cipher() -> FieldCipher:
    installed = installed_field_cipher()
    if installed is not None:
        return installed
    from payment_service.config import load_settings

    settings = load_settings()
    if not settings.pii_encryption_keys:
        raise RuntimeError(
            "revision 0007 encrypts the stored client secrets: set PAYMENT_PII_ENCRYPTION_KEYS "
            "(the service's keys) for the migration"
        )
    specs = [key.get_secret_value() for key in settings.pii_encryption_keys]
    return FieldCipher.from_specs(specs, settings.pii_active_key_id)


class _Keys:
    """The cipher, found the first time a value needs it."""

    def __init__(self) -> None:
        self._cipher: FieldCipher | None = None

    def __call__(self) -> FieldCipher:
        if self._cipher is None:
            self._cipher = _cipher()
        return self._cipher


def _batches(
    bind: Connection, table: sa.TableClause, column: str
) -> Iterator[list[tuple[str, str]]]:
    """(id, value) of the rows holding a value, BATCH_ROWS at a time in id order."""
    last = ""
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c[column])
            .where(table.c[column].is_not(None), table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH_ROWS)
        ).all()
        if not rows:
            return
        yield [(row_id, value) for row_id, value in rows]
        last = rows[-1][0]


def _rewrite_column(table_name: str, column: str, rewrite: Rewrite) -> None:
    """Replace each stored value by ``rewrite(value)``; a batch is one executemany UPDATE."""
    bind = op.get_bind()
    table = sa.table(table_name, sa.column("id", sa.String(40)), sa.column(column, sa.Text()))
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam("new_value")})
    )
    for rows in _batches(bind, table, column):
        changed = [
            {"row_id": row_id, "new_value": new}
            for row_id, value in rows
            if (new := rewrite(value)) != value
        ]
        if changed:
            bind.execute(update, changed)


def _encrypting(context: str, keys: _Keys) -> Rewrite:
    def encrypt(value: str) -> str | None:
        if value == _JSON_NULL and context == "subscriptions.pending_action":
            return None
        if FieldCipher.key_id_of(value) is not None:
            return value  # already encrypted
        return keys().encrypt(value, context=context)

    return encrypt


def _decrypting(context: str, keys: _Keys) -> Rewrite:
    def decrypt(value: str) -> str:
        if FieldCipher.key_id_of(value) is None:
            return value
        return keys().decrypt(value, context=context)

    return decrypt


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column(
            "pending_action",
            existing_type=sa.JSON(),
            type_=sa.Text(),
            existing_nullable=True,
            postgresql_using="pending_action::text",
        )
    keys = _Keys()
    for table_name, column in SECRET_COLUMNS:
        _rewrite_column(table_name, column, _encrypting(f"{table_name}.{column}", keys))


def downgrade() -> None:
    keys = _Keys()
    for table_name, column in SECRET_COLUMNS:
        _rewrite_column(table_name, column, _decrypting(f"{table_name}.{column}", keys))
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column(
            "pending_action",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=True,
            postgresql_using="pending_action::json",
        )

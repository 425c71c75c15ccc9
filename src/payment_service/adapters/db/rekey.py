"""Key rotation: every encrypted column's values rewritten under the cipher's active key.

The columns are found in the schema (every ``EncryptedType`` column of ``tables.py``), so
a newly encrypted column is rotated without being listed here. Each batch of rows is
its own short transaction, safe next to a running service: a value is replaced only if
it is still the one read (a row the service rewrote meanwhile is already under the
active key). Rows are neither re-versioned nor re-timed: only the ciphertext changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, TableClause, Text, bindparam, column, select, table, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_service.adapters.db.encrypted import EncryptedType
from payment_service.security.field_cipher import FieldCipher

DEFAULT_BATCH_ROWS = 200


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: str
    key: str  # the table's one-column primary key
    name: str
    context: str  # bound into every value (``EncryptedType.context``)

    @property
    def qualified(self) -> str:
        return f"{self.table}.{self.name}"

    def plain(self) -> TableClause:
        """The table with the key and this column as stored text (no decryption)."""
        return table(self.table, column(self.key), column(self.name, Text))


@dataclass(frozen=True, slots=True)
class ColumnRekeyed:
    column: str  # "table.column"
    rewritten: int  # values found under another key (one the service rewrote first counts)
    already_current: int  # already under the active key


def encrypted_columns(metadata: MetaData) -> list[EncryptedColumn]:
    """Every encrypted column, table by table in dependency order."""
    found: list[EncryptedColumn] = []
    for schema_table in metadata.sorted_tables:
        for each in schema_table.columns:
            if isinstance(each.type, EncryptedType):
                [key] = list(schema_table.primary_key.columns)
                found.append(
                    EncryptedColumn(schema_table.name, key.name, each.name, each.type.context)
                )
    return found


def _rewritten(cipher: FieldCipher, context: str, stored: str) -> str | None:
    """The value under the active key; None when it already is."""
    if cipher.key_id_of(stored) == cipher.active_key_id:
        return None
    return cipher.encrypt(cipher.decrypt(stored, context=context), context=context)


async def _rekey_batch(
    connection: AsyncConnection,
    target: EncryptedColumn,
    cipher: FieldCipher,
    after: object,
    batch_rows: int,
) -> tuple[Sequence[Any], int]:
    """Rewrite the next rows holding a value (in key order); their keys, and how many
    were rewritten."""
    plain = target.plain()
    key, value = plain.c[target.key], plain.c[target.name]
    statement = select(key, value).where(value.is_not(None)).order_by(key).limit(batch_rows)
    if after is not None:
        statement = statement.where(key > after)
    rows = (await connection.execute(statement)).all()
    changes = [
        {"row_key": row_key, "old_value": stored, "new_value": new}
        for row_key, stored in rows
        if (new := _rewritten(cipher, target.context, stored)) is not None
    ]
    if changes:
        rewrite = (
            update(plain)
            .where(key == bindparam("row_key"), value == bindparam("old_value"))
            .values({target.name: bindparam("new_value")})
        )
        await connection.execute(rewrite, changes)
    return [row[0] for row in rows], len(changes)


async def rekey_column(
    engine: AsyncEngine,
    target: EncryptedColumn,
    cipher: FieldCipher,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ColumnRekeyed:
    """Rewrite one column's values under the active key; FieldCipherError on a value that
    does not decrypt (a key missing from ``cipher``, a value in clear)."""
    rewritten = seen = 0
    after: object = None
    while True:
        async with engine.begin() as connection:
            keys, changed = await _rekey_batch(connection, target, cipher, after, batch_rows)
        if not keys:
            return ColumnRekeyed(target.qualified, rewritten, seen - rewritten)
        after = keys[-1]
        seen += len(keys)
        rewritten += changed


async def rekey_all(
    engine: AsyncEngine,
    metadata: MetaData,
    cipher: FieldCipher,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> list[ColumnRekeyed]:
    """Every encrypted column of ``metadata`` rewritten under the active key."""
    return [
        await rekey_column(engine, target, cipher, batch_rows=batch_rows)
        for target in encrypted_columns(metadata)
    ]

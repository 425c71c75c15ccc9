"""``rotate-keys``: after a new PII key is added and made active, rewrite every encrypted
value (personal data, stored Stripe events, client secrets) under it; the old key can
be removed from ``pii_encryption_keys`` once this has finished.

Runs next to a serving process (short batches, compare-and-set writes); the serving
processes must already have the new key active, or their writes land under the old one.
"""

from __future__ import annotations

from typing import TextIO

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.rekey import DEFAULT_BATCH_ROWS, rekey_all
from payment_service.adapters.db.schema_check import SchemaNotCurrent, ensure_schema_current
from payment_service.adapters.db.tables import metadata
from payment_service.bootstrap.services import build_field_cipher
from payment_service.cli.exit_codes import EXIT_FAILURE, EXIT_OK
from payment_service.config import Settings
from payment_service.security.field_cipher import FieldCipherError


async def rotate_keys_command(
    settings: Settings, out: TextIO, *, batch_size: int = DEFAULT_BATCH_ROWS
) -> int:
    """One line per encrypted column (rewritten, already current); exit 1 when a value does
    not decrypt with the configured keys or the schema is not current."""
    cipher = build_field_cipher(settings)
    engine = create_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        statement_timeout_ms=settings.database_statement_timeout_ms,
    )
    try:
        await ensure_schema_current(engine)
        reports = await rekey_all(engine, metadata, cipher, batch_rows=batch_size)
    except (SchemaNotCurrent, FieldCipherError) as error:
        print(f"rotate-keys stopped: {error}", file=out)
        return EXIT_FAILURE
    finally:
        await engine.dispose()
    for report in reports:
        print(
            f"{report.column}: rewritten={report.rewritten} "
            f"already_current={report.already_current}",
            file=out,
        )
    print(f"every encrypted value is under key {cipher.active_key_id}", file=out)
    return EXIT_OK

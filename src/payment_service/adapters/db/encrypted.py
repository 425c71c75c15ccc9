"""A column type that stores text encrypted with the process's FieldCipher.

The composition root installs the cipher once (``use_field_cipher``) before any
query runs; a query touching an encrypted column without one fails loudly
rather than writing personal data in clear.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from payment_service.security.field_cipher import FieldCipher

_CIPHER: list[FieldCipher] = []


def use_field_cipher(cipher: FieldCipher) -> None:
    _CIPHER[:] = [cipher]


def field_cipher() -> FieldCipher:
    if not _CIPHER:
        raise RuntimeError("no PII encryption key is configured (pii_encryption_keys)")
    return _CIPHER[0]


class EncryptedText(TypeDecorator[str]):
    """TEXT holding ``pii1.<key id>.<ciphertext>``; ``context`` (the column) is bound in."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_cipher().encrypt(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_cipher().decrypt(value, context=self.context)

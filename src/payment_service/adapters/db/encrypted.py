"""Column types that store text, or JSON, encrypted with the process's FieldCipher.

The composition root installs the cipher once (``use_field_cipher``) before any
query runs; a query touching an encrypted column without one fails loudly
rather than writing personal data or secrets in clear. A stored value is
``pii1.<key id>.<ciphertext>`` with the column (``context``) bound in;
``payment-service rotate-keys`` rewrites every such column (``rekey``) under the
active key.
"""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from payment_service.security.field_cipher import (
    FieldCipher,
    field_cipher,
    installed_field_cipher,
    use_field_cipher,
)

__all__ = [
    "EncryptedBytes",
    "EncryptedJson",
    "EncryptedText",
    "EncryptedType",
    "FieldCipher",
    "field_cipher",
    "installed_field_cipher",
    "use_field_cipher",
]

T = TypeVar("T")


class EncryptedType(TypeDecorator[T]):
    """TEXT holding ``pii1.<key id>.<ciphertext>``; ``context`` (the column) is bound in."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def _seal(self, text: str) -> str:
        return field_cipher().encrypt(text, context=self.context)

    def _unseal(self, stored: Any) -> str:
        return field_cipher().decrypt(str(stored), context=self.context)


class EncryptedText(EncryptedType[str]):
    """A string, encrypted."""

    cache_ok = True  # not inherited: each TypeDecorator says so itself

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self._seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self._unseal(value)


class EncryptedJson(EncryptedType[Any]):
    """A JSON value (an entity's nested object), encrypted as its JSON text; None is NULL."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self._seal(json.dumps(value, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(self._unseal(value))


class EncryptedBytes(EncryptedType[bytes]):
    """Bytes (an event's serialized snapshot), encrypted as their base64 text."""

    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else self._seal(base64.b64encode(value).decode("ascii"))

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else base64.b64decode(self._unseal(value))

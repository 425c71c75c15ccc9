"""Cursors (where a stream is) and ListEvents page tokens, opaque to callers.

A cursor names an outbox position: ``base64url("v1:<position>")``. A page token is a
cursor bound to the list's filters, so a token is refused by a list with other filters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection

from payment_service.domain.errors import InvalidArgument

_PREFIX = "v1:"


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after_cursor") -> int:
    """The position ``cursor`` names (0 for an empty one); INVALID_ARGUMENT naming ``field``."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument.field(field, "is not a cursor this service gave") from None
    number = text.removeprefix(_PREFIX)
    if text == number or not number.isdigit() or len(number) > 19:
        raise InvalidArgument.field(field, "is not a cursor this service gave")
    return int(number)


def _fingerprint(account_id: str | None, types: Collection[str]) -> str:
    key = f"{account_id or ''}|{','.join(sorted(types))}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def encode_page_token(position: int, account_id: str | None, types: Collection[str]) -> str:
    return f"{encode_cursor(position)}.{_fingerprint(account_id, types)}"


def decode_page_token(token: str, account_id: str | None, types: Collection[str]) -> int:
    cursor, _, fingerprint = token.partition(".")
    if fingerprint != _fingerprint(account_id, types):
        raise InvalidArgument.field(
            "page_token", "does not belong to this list (its filters differ)"
        )
    return decode_cursor(cursor, "page_token")

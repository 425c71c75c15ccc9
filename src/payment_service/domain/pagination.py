"""Keyset pagination, the pure part: page sizes, opaque page tokens, pages.

A token is urlsafe base64 of JSON ``{"t": create_time, "i": id, "f": filter fingerprint}``.
Lists are ordered newest first by ``(create_time DESC, id DESC)``; the token holds the
last row returned, and the next page starts strictly after it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, TypeVar

from payment_service.domain.clock import require_aware
from payment_service.domain.errors import InvalidArgument

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position of a row in ``(create_time DESC, id DESC)`` order."""

    create_time: datetime
    id: str


def filter_fingerprint(filters: Mapping[str, object]) -> str:
    """A short stable digest of a list's filters (include the list's name among them)."""
    canonical = json.dumps(
        {key: _canonical(value) for key, value in filters.items()}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return require_aware(value).isoformat()
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted(str(item) for item in value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _invalid_token() -> InvalidArgument:
    return InvalidArgument.field("page_token", "is not a token issued for this list and filters")


def encode_page_token(cursor: Cursor, fingerprint: str) -> str:
    body = {"t": require_aware(cursor.create_time).isoformat(), "i": cursor.id, "f": fingerprint}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> Cursor:
    """Raise InvalidArgument naming ``page_token`` for garbage or a token of other filters."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        create_time = datetime.fromisoformat(body["t"])
        row_id = body["i"]
        token_fingerprint = body["f"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise _invalid_token() from None
    if (
        not isinstance(row_id, str)
        or token_fingerprint != fingerprint
        or create_time.tzinfo is None
    ):
        raise _invalid_token()
    return Cursor(require_aware(create_time), row_id)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``page_size`` and ``page_token`` as the caller sent them, validated on creation."""

    page_size: int = 0
    page_token: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.page_size, bool) or not isinstance(self.page_size, int):
            raise InvalidArgument.field("page_size", "must be an integer")
        if self.page_size < 0:
            raise InvalidArgument.field("page_size", "must not be negative")
        if len(self.page_token) > 1024:
            raise _invalid_token()

    @property
    def size(self) -> int:
        """The effective size: 0 means 50, above 200 means 200."""
        if self.page_size == 0:
            return DEFAULT_PAGE_SIZE
        return min(self.page_size, MAX_PAGE_SIZE)

    def cursor(self, filters: Mapping[str, object]) -> Cursor | None:
        """Where the page starts (None for the first page); checks the token against ``filters``."""
        if not self.page_token:
            return None
        return decode_page_token(self.page_token, filter_fingerprint(filters))

    def page_of(
        self, rows: Sequence[T], cursor_of: Callable[[T], Cursor], filters: Mapping[str, object]
    ) -> Page[T]:
        """Build the page from up to ``size + 1`` ordered rows (the extra one means: more exist)."""
        items = list(rows[: self.size])
        if len(rows) <= self.size or not items:
            return Page(items, "")
        return Page(items, encode_page_token(cursor_of(items[-1]), filter_fingerprint(filters)))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str = ""

    @property
    def is_last(self) -> bool:
        return not self.next_page_token

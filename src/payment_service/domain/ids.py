"""Opaque, time-ordered ids: ``<prefix>_<26-char Crockford base32 ULID>``."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE: Final = {c: i for i, c in enumerate(_CROCKFORD)}
_RANDOM_BITS: Final = 80
_ULID_LENGTH: Final = 26


class IdPrefix(StrEnum):
    CUSTOMER = "cust"
    PAYMENT = "pay"
    PAYMENT_METHOD = "pmt"
    REFUND = "rfd"
    SUBSCRIPTION = "subn"
    INVOICE = "inv"
    PRICE = "price"
    WEBHOOK_EVENT = "whe"
    AUDIT = "aud"
    DISPUTE = "dsp"
    SETUP_INTENT = "setup"


class _MonotonicUlid:
    """ULIDs that sort in creation order, also within one millisecond in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def next(self) -> int:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms <= self._last_ms and self._last_random < 2**_RANDOM_BITS - 1:
                now_ms = self._last_ms
                random_part = self._last_random + 1
            else:
                random_part = secrets.randbits(_RANDOM_BITS)
            self._last_ms, self._last_random = now_ms, random_part
            return (now_ms << _RANDOM_BITS) | random_part


_generator = _MonotonicUlid()


def _encode(value: int) -> str:
    chars = []
    for _ in range(_ULID_LENGTH):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid() -> str:
    return _encode(_generator.next())


def new_id(prefix: str) -> str:
    """``new_id("pay")`` → ``"pay_01J9Z3…"`` (26 chars after the underscore)."""
    if not prefix or "_" in prefix:
        raise ValueError(f"invalid id prefix {prefix!r}")
    return f"{prefix}_{new_ulid()}"


def is_valid_id(prefix: str, value: str) -> bool:
    """True when ``value`` is ``<prefix>_`` followed by a well-formed ULID."""
    head, sep, ulid = value.partition("_")
    return (
        sep == "_"
        and head == prefix
        and len(ulid) == _ULID_LENGTH
        and ulid[0] in "01234567"
        and all(c in _DECODE for c in ulid)
    )


def id_time(value: str) -> datetime:
    """The creation time (millisecond precision) encoded in an id."""
    ulid = value.rpartition("_")[2]
    number = 0
    for char in ulid:
        number = (number << 5) | _DECODE[char]
    return datetime.fromtimestamp((number >> _RANDOM_BITS) / 1000, UTC)

"""Time in the domain: always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def require_aware(value: datetime, name: str = "time") -> datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes (a programming error)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")
    return value.astimezone(UTC)


def from_unix(seconds: int | float) -> datetime:
    """A Unix timestamp (Stripe's ``created``, ``current_period_end``…) as aware UTC."""
    return datetime.fromtimestamp(seconds, UTC)

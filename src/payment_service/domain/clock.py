"""Time in the domain: always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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


def maybe_from_unix(seconds: int | float | None) -> datetime | None:
    """``from_unix`` for Stripe fields that may be null (``trial_end``, ``canceled_at``…)."""
    return None if seconds is None else from_unix(seconds)


# Stripe's event times have one-second resolution; an object we read from the
# API at time T is dated a second earlier so that an event of the same second
# is still judged by the transition table rather than dropped as older.
_API_READ_SLACK = timedelta(seconds=1)


def api_read_time() -> datetime:
    """The observation time to record for a Stripe object we just read or changed."""
    return (utcnow() - _API_READ_SLACK).replace(microsecond=0)


def answer_time() -> datetime:
    """The observation time of Stripe's answer to a change we just asked for: this second.

    Not a second earlier as for reads (``api_read_time``): an event of an earlier second
    is older than the change we made, and one of this same second is still judged by the
    transition table (equal times), so the answer is never discarded as older than the
    event its own request caused.
    """
    return utcnow().replace(microsecond=0)


def refresh_due(
    *, created: datetime, last_read: datetime, now: datetime, min_s: float, max_s: float
) -> bool:
    """Backoff for re-reading an unsettled object: the longer it has been unsettled, the
    less often (a quarter of its age since the last read, between ``min_s`` and ``max_s``)."""
    age = (now - created).total_seconds()
    interval = min(max(age / 4, min_s), max_s)
    return (now - last_read).total_seconds() >= interval


def observed_time(event_created: int | None) -> datetime:
    """When Stripe's view was current: the event's ``created``, or now for a fresh API read."""
    return api_read_time() if event_created is None else from_unix(event_created)

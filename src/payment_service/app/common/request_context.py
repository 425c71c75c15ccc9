"""The current request's context: its deadline and its trace id, in contextvars.

The deadline is an absolute ``time.monotonic()`` instant.

The gRPC layer sets it from the RPC's deadline (``context.time_remaining()``);
outbound calls (Stripe) bound their own timeouts with ``remaining()``. Each
asyncio task copies the context, so concurrent requests never see each
other's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_DEADLINE: ContextVar[float | None] = ContextVar("payment_service_deadline", default=None)


def set_deadline(seconds_from_now: float | None) -> Token[float | None]:
    """Set (``None``: clear) the deadline; keep the token to ``reset_deadline`` it."""
    value = None if seconds_from_now is None else time.monotonic() + max(0.0, seconds_from_now)
    return _DEADLINE.set(value)


def reset_deadline(token: Token[float | None]) -> None:
    _DEADLINE.reset(token)


@contextmanager
def deadline_scope(seconds_from_now: float | None) -> Iterator[None]:
    """Run a block under a deadline; an enclosing, earlier deadline is never extended."""
    current = _DEADLINE.get()
    value = None if seconds_from_now is None else time.monotonic() + max(0.0, seconds_from_now)
    if current is not None and (value is None or current < value):
        value = current
    token = _DEADLINE.set(value)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline() -> float | None:
    """The absolute ``time.monotonic()`` deadline, or ``None`` when there is none."""
    return _DEADLINE.get()


def remaining() -> float | None:
    """Seconds left (never negative), or ``None`` when no deadline is set."""
    value = _DEADLINE.get()
    if value is None:
        return None
    return max(0.0, value - time.monotonic())


def bounded_timeout(timeout: float) -> float:
    """``timeout`` shortened to the time that remains, if any deadline is set."""
    left = remaining()
    return timeout if left is None else min(timeout, left)


# The current request's trace id: set by the API layer (and the webhook intake),
# written into audit rows.
current_trace_id: ContextVar[str | None] = ContextVar("payment_service_trace_id", default=None)

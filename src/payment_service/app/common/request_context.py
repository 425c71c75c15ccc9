"""The current request's context: its deadline and its trace id, in contextvars.

The deadline is an absolute ``time.monotonic()`` instant: when the work must be over so
the answer still reaches the caller in time. The gRPC layer sets it from the RPC's
deadline (``context.time_remaining()``) less ``answer_margin`` of it (``work_time``);
outbound calls (Stripe) and waits (a Stripe-call lease) bound their own timeouts with
``remaining()``, so a stalled Stripe ends as our UNAVAILABLE, never as the caller's
DEADLINE_EXCEEDED. Each asyncio task copies the context, so concurrent requests never
see each other's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from opentelemetry import trace

# Kept back from the caller's deadline: a tenth of the caller's time, so a short deadline
# keeps most of its time for the work, and never more than a quarter of a second, which is
# plenty even on a busy machine. Its first half is for what follows a Stripe call cut at
# the work deadline (give the Stripe-call lease back: one short write); at the second half
# the answer goes whatever the work is doing (api/grpc/in_flight.py), leaving that half
# for the answer's way back to the caller.
ANSWER_MARGIN_FRACTION = 0.1
ANSWER_MARGIN_MAX_S = 0.25


def answer_margin(seconds: float) -> float:
    """The part of a caller's ``seconds`` kept back for the answer."""
    return min(ANSWER_MARGIN_MAX_S, ANSWER_MARGIN_FRACTION * max(0.0, seconds))


def work_time(caller_seconds: float | None) -> float | None:
    """The time for the work within a caller's deadline ``caller_seconds`` from now (None:
    no deadline): the deadline less ``answer_margin``."""
    if caller_seconds is None:
        return None
    return max(0.0, caller_seconds - answer_margin(caller_seconds))


def answer_time(caller_seconds: float | None) -> float | None:
    """When the answer must leave, within a caller's deadline ``caller_seconds`` from now
    (None: no deadline): the deadline less half of ``answer_margin``."""
    if caller_seconds is None:
        return None
    return max(0.0, caller_seconds - answer_margin(caller_seconds) / 2)


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


# A trace id where no span is active (the webhook applier uses the Stripe event id).
current_trace_id: ContextVar[str | None] = ContextVar("payment_service_trace_id", default=None)


def active_trace_id() -> str | None:
    """The active span's trace id (hex; the caller's own when it sent ``traceparent``),
    else ``current_trace_id``: what audit rows record."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return format(context.trace_id, "032x")
    return current_trace_id.get()

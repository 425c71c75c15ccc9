"""Keeping our calls below Stripe's rate limits, and waiting out a 429 within the deadline.

Stripe allows 100 read and 100 write requests a second per account in live mode, and
about 25 a second per endpoint by default. Every call first takes a slot of an account
limit and of its endpoint's limit, from the limiter the inbound limits use (in Redis, so
every replica counts against the same budget). A call that finds no slot waits for one
when the caller's deadline leaves time for the wait and the call; otherwise it is
UNAVAILABLE with RetryInfo, before anything was sent.

stripe-python does not retry a 429. ``RetryAfter`` reads Stripe's ``Retry-After`` (or
waits a second) and says whether a retry still fits the deadline; the call is then sent
again with the same idempotency key (Stripe does not keep 429 answers under a key).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import stripe

from payment_service.adapters.stripe.errors import REASON_RATE_LIMITED
from payment_service.app.common.request_context import remaining
from payment_service.app.ports.rate_limit import Limit, RateLimiter
from payment_service.domain.errors import Unavailable

DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 30.0
# What a call needs after the wait: sending it and reading Stripe's answer.
CALL_ALLOWANCE_S = 0.5


def rate_limited(retry_after_s: float) -> Unavailable:
    return Unavailable(
        "payment processor rate limit reached; retry with the same request_id",
        retry_after_seconds=retry_after_s,
        reason=REASON_RATE_LIMITED,
    )


def fits_deadline(wait_s: float) -> bool:
    left = remaining()
    return left is None or wait_s + CALL_ALLOWANCE_S < left


def retry_after(error: stripe.RateLimitError) -> float:
    """Stripe's Retry-After in seconds (a second when it sent none), bounded."""
    headers = error.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


@dataclass(frozen=True, slots=True)
class OutboundLimits:
    account: Limit
    endpoint: Limit


class OutboundLimiter:
    def __init__(self, limiter: RateLimiter, limits: OutboundLimits) -> None:
        self._limiter = limiter
        self._limits = limits

    async def acquire(self, endpoint: str) -> None:
        """A slot of the account's and of ``endpoint``'s limit, taken together (one round
        trip; neither is used up while the other is full), waiting within the deadline."""
        takes = (
            (f"stripe:endpoint:{endpoint}", self._limits.endpoint),
            ("stripe:account", self._limits.account),
        )
        while True:
            decision = await self._limiter.take_all(takes)
            if decision.allowed:
                return
            if not fits_deadline(decision.retry_after_s):
                raise rate_limited(decision.retry_after_s)
            await asyncio.sleep(decision.retry_after_s)

"""The outbound limiter keeps calls under Stripe's limits by waiting within the deadline,
and refuses (UNAVAILABLE with RetryInfo) when the wait would not fit; a 429's Retry-After
is read and bounded."""

from __future__ import annotations

import asyncio
import time

import pytest
import stripe

from payment_service.adapters.ratelimit.local import LocalRateLimiter
from payment_service.adapters.stripe.outbound import (
    DEFAULT_RETRY_AFTER_S,
    MAX_RETRY_AFTER_S,
    OutboundLimiter,
    OutboundLimits,
    retry_after,
)
from payment_service.app.common.request_context import deadline_scope
from payment_service.app.ports.rate_limit import Limit
from payment_service.domain.errors import Unavailable

LIMITS = OutboundLimits(
    account=Limit("stripe", per_s=1000, burst=1000), endpoint=Limit("stripe_endpoint", 20, 1)
)


async def test_calls_over_the_endpoint_limit_wait_for_their_slot() -> None:
    limiter = OutboundLimiter(LocalRateLimiter(), LIMITS)
    started = time.monotonic()

    await asyncio.gather(*(limiter.acquire("create_payment_intent") for _ in range(5)))

    assert time.monotonic() - started >= 4 / 20 * 0.9  # one slot per 50 ms after the first
    await limiter.acquire("create_refund")  # another endpoint has its own budget


async def test_a_wait_past_the_deadline_is_unavailable_before_sending() -> None:
    limiter = OutboundLimiter(LocalRateLimiter(), LIMITS)
    await limiter.acquire("create_payment_intent")
    slow = OutboundLimits(account=LIMITS.account, endpoint=Limit("stripe_endpoint", 0.5, 1))
    limiter = OutboundLimiter(LocalRateLimiter(), slow)
    await limiter.acquire("confirm_payment_intent")

    with deadline_scope(0.5), pytest.raises(Unavailable) as refused:
        await limiter.acquire("confirm_payment_intent")

    assert refused.value.retry_after_seconds > 1


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({}, DEFAULT_RETRY_AFTER_S),
        ({"Retry-After": "soon"}, DEFAULT_RETRY_AFTER_S),
        ({"Retry-After": "86400"}, MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_is_read_and_bounded(headers: dict[str, str], seconds: float) -> None:
    error = stripe.RateLimitError("Too many requests", http_status=429, headers=headers)

    assert retry_after(error) == seconds

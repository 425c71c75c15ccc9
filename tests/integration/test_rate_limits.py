"""GCRA limits: in-process, and in a real Redis shared by two limiters (two replicas);
Redis going away makes the in-process limiter judge, never a refused call."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from payment_service.adapters.ratelimit.local import LocalRateLimiter
from payment_service.adapters.ratelimit.redis import RedisRateLimiter
from payment_service.app.ports.rate_limit import Limit
from payment_service.config import RateSetting, Settings
from payment_service.security.rate_limits import (
    RateLimited,
    RateLimitPolicy,
    RateLimits,
    peer_address,
)
from tests.support.db import redis_reachable, redis_url


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _redis() -> Redis:
    if not redis_reachable():
        pytest.skip(f"Redis at {redis_url()} is not reachable")
    return Redis.from_url(redis_url(), socket_timeout=1, socket_connect_timeout=1)


async def test_local_lets_a_burst_through_then_the_rate() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock)
    limit = Limit("writes", per_s=10, burst=5)

    burst = [(await limiter.take("svc", limit)).allowed for _ in range(7)]
    refused = await limiter.take("svc", limit)
    clock.now += 0.1  # one interval later, one more call fits
    later = [(await limiter.take("svc", limit)).allowed for _ in range(2)]

    assert burst == [True] * 5 + [False] * 2
    assert 0 < refused.retry_after_s <= 0.1 + 1e-6
    assert later == [True, False]
    assert (await limiter.take("another-caller", limit)).allowed


async def test_local_forgets_the_idlest_keys_first() -> None:
    limiter = LocalRateLimiter(clock=Clock(), max_keys=2)
    limit = Limit("reads", per_s=1, burst=1)
    for key in ("a", "b", "c"):
        assert (await limiter.take(key, limit)).allowed

    assert (await limiter.take("a", limit)).allowed  # "a" was forgotten: a fresh start
    assert not (await limiter.take("c", limit)).allowed


async def test_two_replicas_share_one_limit_in_redis() -> None:
    client_a, client_b = _redis(), _redis()
    prefix = f"test:rl:{uuid.uuid4().hex}:"
    replicas = [
        RedisRateLimiter(client_a, prefix=prefix),
        RedisRateLimiter(client_b, prefix=prefix),
    ]
    limit = Limit("writes", per_s=50, burst=20)
    try:
        started = asyncio.get_running_loop().time()
        results = []
        for round_number in range(60):  # ~1.2 s of calls, alternating replicas
            decisions = await asyncio.gather(
                *(replica.take("svc-orders", limit) for replica in replicas)
            )
            results.extend(d.allowed for d in decisions)
            await asyncio.sleep(0.02)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await client_a.aclose()
        await client_b.aclose()

    allowed = sum(results)
    expected = limit.burst + limit.per_s * elapsed
    assert replicas[0].fallbacks == replicas[1].fallbacks == 0
    assert expected * 0.9 <= allowed <= expected * 1.05 + 1, (allowed, expected)
    assert allowed < len(results)  # the shared limit refused some of the 120 calls


async def test_redis_down_falls_back_to_the_local_limiter() -> None:
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")
    limit = Limit("reads", per_s=1, burst=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        decisions = [await limiter.take("svc", limit) for _ in range(3)]
    finally:
        await limiter.close()

    assert [d.allowed for d in decisions] == [True, True, False]
    assert limiter.fallbacks == 3
    assert loop.time() - started < 1.0  # one short failure, then Redis is left alone


async def _all_or_none(limiter: LocalRateLimiter | RedisRateLimiter) -> None:
    """One call counted against both limits, or, while one is full, against neither."""
    wide, narrow = Limit("account", per_s=0.01, burst=3), Limit("endpoint", per_s=0.01, burst=1)
    both = (("account", wide), ("endpoint", narrow))
    assert (await limiter.take_all(both)).allowed
    refused = await limiter.take_all(both)  # the endpoint is full: the account keeps its slot
    assert not refused.allowed
    assert refused.retry_after_s > 50  # the longest wait: the full limit's
    assert (await limiter.take_all((("account", wide),))).allowed
    assert (await limiter.take_all((("account", wide),))).allowed
    assert not (await limiter.take_all((("account", wide),))).allowed


async def test_local_takes_several_limits_all_or_none() -> None:
    await _all_or_none(LocalRateLimiter(clock=Clock()))


async def test_redis_takes_several_limits_all_or_none_in_one_script() -> None:
    client = _redis()
    limiter = RedisRateLimiter(client, prefix=f"test:rl:{uuid.uuid4().hex}:")
    try:
        await _all_or_none(limiter)
    finally:
        await client.aclose()
    assert limiter.fallbacks == 0


async def test_redis_down_judges_several_limits_in_process() -> None:
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")
    try:
        await _all_or_none(limiter)
    finally:
        await limiter.close()
    assert limiter.fallbacks == 5


async def test_the_policy_classes_methods_and_names_the_limit() -> None:
    settings = Settings(rate_limit_refunds=RateSetting(per_s=1, burst=1))
    rejected: list[str] = []
    policy = RateLimitPolicy(
        LocalRateLimiter(), RateLimits.from_settings(settings), rejected.append
    )
    refund = "/payments.v1.RefundService/CreateRefund"

    await policy.check_caller("svc-orders", refund)
    await policy.check_caller("svc-orders", "/payments.v1.PaymentService/GetPayment")
    with pytest.raises(RateLimited) as limited:
        await policy.check_caller("svc-orders", refund)

    assert limited.value.metadata["limit"] == "refunds"
    assert limited.value.subject == "caller:svc-orders"
    assert limited.value.retry_after_seconds > 0
    assert rejected == ["refunds"]
    assert (
        RateLimits.from_settings(settings)
        .for_method("/payments.v1.PaymentService/CreatePayment")
        .name
        == "writes"
    )


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.0.0.7:51234", "10.0.0.7"),
        ("ipv6:[::1]:5000", "::1"),
        ("unix:/tmp/socket", "unix:/tmp/socket"),
    ],
)
def test_a_peer_is_limited_by_its_address_not_its_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address

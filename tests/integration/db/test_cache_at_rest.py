"""Cached payments in Redis are ciphertext (the client secret and the receipt email are in
them), and a cached read still answers in clear."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from payment_service.adapters.cache.redis_cache import RedisCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.customers.accounts import Customers
from payment_service.app.payments.rules import PaymentRules, cache_key
from payment_service.app.payments.service import Payments
from payment_service.security.field_cipher import FieldCipher
from tests.support.db import (
    real_services_required,
    record_backend_used,
    redis_reachable,
    redis_url,
)
from tests.support.server import TEST_PII_KEY
from tests.unit.fakes.processor import FakeStripe
from tests.unit.use_cases.support import ORDERS, payment_request


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[Redis]:
    if not redis_reachable():
        message = f"Redis at {redis_url()} is not reachable"
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
        pytest.skip(message)
    record_backend_used("redis")
    client = Redis.from_url(redis_url())
    yield client
    await client.aclose()


async def test_a_cached_payment_is_ciphertext_in_redis(
    uow_factory: SqlUnitOfWorkFactory, redis_client: Redis
) -> None:
    prefix = f"test-{secrets.token_hex(4)}:"
    cache = RedisCache(redis_client, prefix=prefix)
    stripe = FakeStripe()
    rules = PaymentRules(currencies=frozenset({"usd"}), refresh_after_s=60.0, stripe_lease_s=5.0)
    payments = Payments(uow_factory, stripe, cache, Customers(uow_factory, stripe), rules)
    try:
        created = await payments.create(ORDERS, payment_request("req-cached", confirm=False))
        assert created.client_secret
        raw = await redis_client.hget(prefix + cache_key(created.id), "d")
        assert isinstance(raw, bytes)
        assert raw.startswith(b"pii1.test.")
        assert created.client_secret.encode() not in raw
        assert b"secret" not in raw
        assert b"acct_1" not in raw

        answered = await payments.get(ORDERS, created.id)
        assert answered.client_secret == created.client_secret
    finally:
        keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
        if keys:
            await redis_client.delete(*keys)


async def test_an_entry_that_does_not_decrypt_is_a_miss(redis_client: Redis) -> None:
    prefix = f"test-{secrets.token_hex(4)}:"
    try:
        await redis_client.hset(prefix + "payment:pay_plain", mapping={"v": 1, "d": b'{"id":1}'})
        cache = RedisCache(redis_client, prefix=prefix)
        assert await cache.get("payment:pay_plain") is None  # written in clear (an old replica)

        retired = RedisCache(
            redis_client, prefix=prefix, cipher=FieldCipher.from_specs([TEST_PII_KEY])
        )
        await retired.put("payment:pay_old", 1, b'{"id":2}', 60)
        assert await retired.get("payment:pay_old") == b'{"id":2}'
        rotated = RedisCache(
            redis_client,
            prefix=prefix,
            cipher=FieldCipher.from_specs([FieldCipher.new_key_spec("k2")]),
        )
        assert await rotated.get("payment:pay_old") is None  # under a key no longer configured
        moved = await redis_client.hget(prefix + "payment:pay_old", "d")
        await redis_client.hset(prefix + "payment:pay_moved", mapping={"v": 1, "d": moved})
        assert await retired.get("payment:pay_moved") is None  # the key is bound in
    finally:
        keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
        if keys:
            await redis_client.delete(*keys)

"""The in-process copy in front of Redis (adapters/cache/near.py), two replicas on one
real Redis: a hit makes no Redis round trip, a change on one replica drops the other's
copy, a replica's own write is seen at once, and a lost subscription stops the copies."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from payment_service.adapters.cache.near import NearCache
from payment_service.adapters.cache.redis_cache import RedisCache
from payment_service.security.field_cipher import FieldCipher
from tests.support.db import (
    real_services_required,
    record_backend_used,
    redis_reachable,
    redis_url,
)
from tests.support.server import TEST_PII_KEY

Replica = Callable[[], Awaitable[NearCache]]


@pytest_asyncio.fixture
async def replica() -> AsyncIterator[Replica]:
    """Makes NearCaches that share one key prefix and one change channel on real Redis."""
    if not redis_reachable():
        message = f"Redis at {redis_url()} is not reachable"
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
        pytest.skip(message)
    record_backend_used("redis")
    tag = secrets.token_hex(4)
    cipher = FieldCipher.from_specs([TEST_PII_KEY])
    made: list[NearCache] = []

    async def make() -> NearCache:
        inner = RedisCache(
            Redis.from_url(redis_url()),
            prefix=f"test-near-{tag}:",
            cipher=cipher,
            channel=f"test-near-{tag}",
        )
        near = NearCache(inner, Redis.from_url(redis_url(), client_name=f"near-{tag}"))
        assert await near.started()
        made.append(near)
        return near

    yield make
    for near in made:
        await near.close()


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never became true")


async def _copied(near: NearCache, key: str) -> None:
    """Read ``key`` until it is in the copy (the notice of a write of its own, arriving
    during a read, keeps that read out of the copy)."""

    async def copied() -> bool:
        await near.get(key)
        return key in near._entries

    await _eventually(copied)


async def _raw(near: NearCache) -> Redis:
    return near._inner._redis  # the replica's own Redis client, to change Redis behind it


async def test_a_hit_is_served_from_the_copy_without_redis(replica: Replica) -> None:
    a = await replica()
    await a.put("pay_1", 1, b"one", 60)
    await _copied(a, "pay_1")
    # Redis loses the entry behind the copy's back (no notice): the copy still answers.
    raw = await _raw(a)
    await raw.delete(a._inner.prefix + "pay_1")
    assert await a.get("pay_1") == b"one"


async def test_a_write_on_one_replica_drops_the_other_replicas_copy(replica: Replica) -> None:
    a, b = await replica(), await replica()
    await a.put("pay_1", 1, b"v1", 60)
    await _copied(b, "pay_1")
    assert await b.get("pay_1") == b"v1"
    await a.put("pay_1", 2, b"v2", 60)

    async def b_sees_v2() -> bool:
        return await b.get("pay_1") == b"v2"

    await _eventually(b_sees_v2)
    await a.delete("pay_1")

    async def b_misses() -> bool:
        return await b.get("pay_1") is None

    await _eventually(b_misses)


async def test_a_replicas_own_write_is_seen_at_once(replica: Replica) -> None:
    a = await replica()
    await a.put("pay_1", 1, b"v1", 60)
    await _copied(a, "pay_1")
    await a.put("pay_1", 2, b"v2", 60)
    assert await a.get("pay_1") == b"v2"  # no wait for the notice
    await a.delete("pay_1")
    assert await a.get("pay_1") is None


async def test_an_older_version_never_replaces_a_newer_one(replica: Replica) -> None:
    a, b = await replica(), await replica()
    await a.put("pay_1", 3, b"v3", 60)
    await b.put("pay_1", 2, b"v2", 60)
    assert await a.get("pay_1") == b"v3"
    assert await b.get("pay_1") == b"v3"


async def test_a_read_that_a_change_overtakes_is_not_copied(replica: Replica) -> None:
    a = await replica()
    await a.put("pay_1", 1, b"v1", 60)
    began = a._generation
    a._changed(a._inner.prefix + "pay_1")  # a change's notice arrives during the read
    assert not a._unchanged_since("pay_1", began)
    assert a._unchanged_since("pay_2", began)  # another key's read is still copied


async def test_a_lost_subscription_stops_the_copies_until_it_is_back(replica: Replica) -> None:
    a = await replica()
    await a.put("pay_1", 1, b"v1", 60)
    await _copied(a, "pay_1")
    raw = await _raw(a)
    clients = await raw.client_list()
    ours = [
        c["id"]
        for c in clients
        if c.get("name") == a._subscriber.get_connection_kwargs().get("client_name")
    ]
    assert ours
    for client_id in ours:
        await raw.client_kill_filter(_id=client_id)
    # Redis changes behind a's back while it has no notices: a must not answer from its copy.
    await raw.delete(a._inner.prefix + "pay_1")

    async def a_misses() -> bool:
        return await a.get("pay_1") is None

    await _eventually(a_misses)
    assert await a.started()  # subscribed again, copies in use again
    await a.put("pay_1", 2, b"v2", 60)
    assert await a.get("pay_1") == b"v2"

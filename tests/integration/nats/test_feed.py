"""The JetStream EventFeed: filters, resuming after a position, live events, lost history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from payment_service.adapters.nats.feed import FeedPolling, JetStreamEventFeed
from payment_service.adapters.nats.relay import JetStreamRelay
from payment_service.adapters.nats.stream import StreamSettings, ensure_stream, find_start
from payment_service.app.ports.event_stream import FeedPositionExpired, OutboxEvent
from tests.integration.nats.support import MemoryCursor, MemoryOutbox, PrivateNats


async def _publish(
    js: JetStreamContext, settings: StreamSettings, outbox: MemoryOutbox, cursor: int = 0
) -> None:
    relay = JetStreamRelay(js._nc, js, settings, outbox, MemoryCursor(cursor))
    while await relay.pump():
        pass


async def _take(stream: AsyncIterator[OutboxEvent], count: int) -> list[OutboxEvent]:
    out: list[OutboxEvent] = []
    async with asyncio.timeout(5):
        async for event in stream:
            out.append(event)
            if len(out) == count:
                break
    return out


async def _nothing_more(stream: AsyncIterator[OutboxEvent]) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await anext(stream)


def _mixed(outbox: MemoryOutbox) -> None:
    for account in ("acct_a", "acct_b"):
        outbox.add("payment.succeeded", account_id=account)
        outbox.add("payment.failed", account_id=account)
        outbox.add("refund.failed", account_id=account, gap=2)
        outbox.add("subscription.past_due", account_id=account)


@pytest.fixture
def feed(js: JetStreamContext, stream_settings: StreamSettings) -> JetStreamEventFeed:
    return JetStreamEventFeed(js._nc, js, stream_settings, FeedPolling(poll_s=0.5))


async def test_filters_by_account_and_type(
    js: JetStreamContext, stream_settings: StreamSettings, feed: JetStreamEventFeed
) -> None:
    outbox = MemoryOutbox()
    _mixed(outbox)
    await _publish(js, stream_settings, outbox)

    def expect(account: str | None, types: set[str]) -> list[OutboxEvent]:
        return [
            e
            for e in outbox.rows
            if (account is None or e.account_id == account) and (not types or e.type in types)
        ]

    cases: list[tuple[str | None, set[str]]] = [
        ("acct_a", {"payment.succeeded"}),
        ("acct_b", set()),
        (None, {"payment.succeeded", "refund.failed"}),
        (None, {"payment.succeeded", "payment.failed"}),
        ("acct_a", {"subscription.past_due", "payment.failed"}),
    ]
    for account, types in cases:
        wanted = expect(account, types)
        stream = feed.stream(after_position=0, account_id=account, types=frozenset(types))
        assert await _take(stream, len(wanted)) == wanted, (account, types)
        await _nothing_more(stream)
        await stream.aclose()


async def test_resumes_after_the_given_position(
    js: JetStreamContext, stream_settings: StreamSettings, feed: JetStreamEventFeed
) -> None:
    outbox = MemoryOutbox()
    for i in range(40):
        outbox.add(gap=2 if i % 7 == 0 else 0)
    await _publish(js, stream_settings, outbox)
    positions = [e.position for e in outbox.rows]
    for after in (0, positions[0], positions[10] - 1, positions[10], positions[-2], positions[-1]):
        wanted = [e for e in outbox.rows if e.position > after]
        stream = feed.stream(after_position=after, account_id=None, types=frozenset())
        if wanted:
            assert await _take(stream, len(wanted)) == wanted
        await _nothing_more(stream)
        await stream.aclose()


async def test_finds_positions_across_deleted_messages(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox = MemoryOutbox()
    for _ in range(30):
        outbox.add()
    await _publish(js, stream_settings, outbox)
    for seq in range(10, 20):
        await js.delete_msg(stream_settings.name, seq)
    for after in range(31):
        start = await find_start(js, stream_settings, after)
        first_kept = next((s for s in range(start.sequence, 31) if not 10 <= s < 20), 31)
        expected = next(s for s in [*range(1, 10), *range(20, 31), 31] if s > after)
        assert first_kept == expected, after


async def test_streams_new_events_as_they_are_published(
    js: JetStreamContext, stream_settings: StreamSettings, feed: JetStreamEventFeed
) -> None:
    outbox = MemoryOutbox()
    outbox.add()
    await _publish(js, stream_settings, outbox)
    stream = feed.stream(after_position=1, account_id="acct_a", types=frozenset())
    waiting = asyncio.ensure_future(_take(stream, 2))
    await asyncio.sleep(0.3)
    late = [outbox.add(), outbox.add("refund.failed", account_id="acct_b"), outbox.add()]
    await _publish(js, stream_settings, outbox)
    assert await waiting == [late[0], late[2]]
    await stream.aclose()


async def test_says_so_when_the_stream_no_longer_holds_the_position(
    js: JetStreamContext, stream_settings: StreamSettings, feed: JetStreamEventFeed
) -> None:
    outbox = MemoryOutbox()
    for _ in range(6):
        outbox.add()
    await _publish(js, stream_settings, outbox, cursor=3)  # the stream holds 4.. only
    with pytest.raises(FeedPositionExpired) as raised:
        await anext(feed.stream(after_position=2, account_id=None, types=frozenset()))
    assert raised.value.oldest_available_after == 3
    stream = feed.stream(after_position=3, account_id=None, types=frozenset())
    assert [e.position for e in await _take(stream, 3)] == [4, 5, 6]
    await stream.aclose()


async def test_any_account_id_and_type_make_a_subject_of_their_own(
    js: JetStreamContext, stream_settings: StreamSettings, feed: JetStreamEventFeed
) -> None:
    outbox = MemoryOutbox()
    odd = outbox.add("payment.succeeded", account_id="acct.with dots*>")
    outbox.add("payment.succeeded", account_id="acct")
    outbox.add("payment.succeeded", account_id="")
    await _publish(js, stream_settings, outbox)
    stream = feed.stream(after_position=0, account_id=odd.account_id, types=frozenset())
    assert await _take(stream, 1) == [odd]
    await _nothing_more(stream)
    await stream.aclose()


async def test_a_watcher_carries_on_after_a_nats_outage(private_nats: PrivateNats) -> None:
    settings = StreamSettings(name="FEED_OUTAGE", subject_prefix="feed_outage.events")
    client = await nats.connect(
        private_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=1
    )
    js = client.jetstream(timeout=1)
    await ensure_stream(js, settings)
    outbox = MemoryOutbox()
    outbox.add()
    await _publish(js, settings, outbox)
    stream = JetStreamEventFeed(client, js, settings, FeedPolling(poll_s=0.5)).stream(
        after_position=0, account_id=None, types=frozenset()
    )
    try:
        assert await _take(stream, 1) == outbox.rows[:1]
        private_nats.stop()
        await asyncio.sleep(1.0)
        private_nats.start()
        outbox.add()
        outbox.add()
        async with asyncio.timeout(15):
            while True:
                try:
                    await _publish(js, settings, outbox)
                    break
                except Exception:
                    await asyncio.sleep(0.2)
        async with asyncio.timeout(15):
            assert [e.position for e in [await anext(stream), await anext(stream)]] == [2, 3]
    finally:
        await stream.aclose()
        await client.close()

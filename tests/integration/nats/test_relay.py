"""The outbox relay against the real JetStream: order, dedupe, resume, two relays, an outage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
from nats.js import JetStreamContext

from payment_service.adapters.nats.messages import (
    MSG_ID,
    POSITION,
    PREV_POSITION,
    TRACE_PARENT,
    header,
    to_message,
)
from payment_service.adapters.nats.relay import JetStreamRelay, RelayPacing
from payment_service.adapters.nats.stream import StreamSettings
from payment_service.adapters.nats.subjects import all_events
from tests.integration.nats.support import MemoryCursor, MemoryOutbox, PrivateNats


def _relay(
    js: JetStreamContext,
    settings: StreamSettings,
    outbox: MemoryOutbox,
    cursor: MemoryCursor,
    **kwargs: float,
) -> JetStreamRelay:
    client = js._nc  # the test's own connection
    pacing = RelayPacing(**{"idle_wait_s": 0.2, **kwargs})  # type: ignore[arg-type]
    return JetStreamRelay(client, js, settings, outbox, cursor, pacing=pacing)


async def _drain(relay: JetStreamRelay) -> int:
    total = 0
    while (sent := await relay.pump()) > 0:
        total += sent
    return total


async def _stored(
    js: JetStreamContext, settings: StreamSettings
) -> list[tuple[int, dict[str, str]]]:
    """(stream sequence, headers) of every message, read by sequence."""
    info = await js.stream_info(settings.name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(settings.name, seq)
        out.append((seq, dict(msg.headers or {})))
    return out


def _positions(stored: list[tuple[int, dict[str, str]]]) -> list[int]:
    return [int(header(h, POSITION) or -1) for _, h in stored]


async def test_publishes_in_outbox_order_with_dedupe_id_and_headers(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox, cursor = MemoryOutbox(), MemoryCursor()
    events = [outbox.add(), outbox.add("refund.failed", account_id="acct_b"), outbox.add(gap=3)]
    relay = _relay(js, stream_settings, outbox, cursor)
    assert await _drain(relay) == 3
    await relay.save_cursor()
    stored = await _stored(js, stream_settings)
    assert _positions(stored) == [1, 2, 6]
    assert [header(h, MSG_ID) for _, h in stored] == [e.event_id for e in events]
    assert [header(h, PREV_POSITION) for _, h in stored] == ["0", "1", "2"]
    assert header(stored[0][1], TRACE_PARENT) == events[0].trace_parent
    last = await js.get_last_msg(
        stream_settings.name, f"{stream_settings.subject_prefix}.acct_b.refund.failed"
    )
    assert last.seq == 2
    assert cursor.position == 6


async def test_crash_before_cursor_save_republishes_nothing_and_resumes(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox, cursor = MemoryOutbox(), MemoryCursor()
    for _ in range(5):
        outbox.add()
    first = _relay(js, stream_settings, outbox, cursor, cursor_save_interval_s=3600)
    assert await _drain(first) == 5
    assert cursor.saves == []  # "crashed" before its cursor save

    outbox.add()
    outbox.add()
    second = _relay(js, stream_settings, outbox, cursor)
    assert await _drain(second) == 2
    assert _positions(await _stored(js, stream_settings)) == [1, 2, 3, 4, 5, 6, 7]


async def test_a_republished_event_is_dropped_by_its_event_id(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox = MemoryOutbox()
    event = outbox.add()
    message = to_message(stream_settings.subject_prefix, event, prev_position=0)
    first = await js.publish(message.subject, message.payload, headers=dict(message.headers))
    again = await js.publish(message.subject, message.payload, headers=dict(message.headers))
    assert not first.duplicate
    assert again.duplicate
    assert again.seq == first.seq
    # A relay that lost that PubAck and publishes the row again appends nothing either.
    relay = _relay(js, stream_settings, outbox, MemoryCursor())
    assert await _drain(relay) == 0
    assert _positions(await _stored(js, stream_settings)) == [1]


async def test_resumes_after_the_saved_cursor(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox, cursor = MemoryOutbox(), MemoryCursor(position=3)
    for _ in range(5):
        outbox.add()
    relay = _relay(js, stream_settings, outbox, cursor)
    assert await _drain(relay) == 2
    stored = await _stored(js, stream_settings)
    assert _positions(stored) == [4, 5]
    assert header(stored[0][1], PREV_POSITION) == "3"


async def test_two_relays_at_once_keep_order_and_publish_each_event_once(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox = MemoryOutbox()
    relays = [
        _relay(js, stream_settings, outbox, MemoryCursor(), batch_size=7),  # type: ignore[arg-type]
        _relay(js, stream_settings, outbox, MemoryCursor(), batch_size=5),  # type: ignore[arg-type]
    ]
    for relay in relays:
        relay.start()
    try:
        for i in range(200):
            outbox.add(gap=i % 3 == 0)
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        await _until(lambda: all(r.published_position == outbox.rows[-1].position for r in relays))
    finally:
        for relay in relays:
            await relay.stop()
    assert _positions(await _stored(js, stream_settings)) == [e.position for e in outbox.rows]


async def test_background_relay_publishes_new_rows_soon_and_stops_cleanly(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox, cursor = MemoryOutbox(), MemoryCursor()
    relay = _relay(js, stream_settings, outbox, cursor)
    relay.start()
    try:
        await asyncio.sleep(0.1)
        outbox.add()
        await _until(lambda: relay.published_position == 1, timeout_s=1.0)
    finally:
        await relay.stop()
    assert cursor.position == 1


async def test_relay_reconnects_after_a_nats_outage(
    private_nats: PrivateNats, tmp_path: Path
) -> None:
    settings = StreamSettings(name="OUTAGE", subject_prefix="outage.events")
    client = await nats.connect(
        private_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=1
    )
    js = client.jetstream(timeout=1)
    outbox, cursor = MemoryOutbox(), MemoryCursor()
    relay = _relay(js, settings, outbox, cursor, publish_timeout_s=1.0, max_retry_s=0.5)
    relay.start()
    try:
        outbox.add()
        await _until(lambda: relay.published_position == 1)
        private_nats.stop()
        for _ in range(20):
            outbox.add()
        await asyncio.sleep(1.5)
        private_nats.start()
        await _until(lambda: relay.published_position == 21, timeout_s=15)
        assert _positions(await _stored(js, settings)) == list(range(1, 22))
    finally:
        await relay.stop()
        await client.close()


async def test_a_plain_nats_client_reads_the_stream(
    js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox = MemoryOutbox()
    wanted = outbox.add("payment.succeeded", account_id="acct_a")
    outbox.add("refund.failed", account_id="acct_a")
    await _drain(_relay(js, stream_settings, outbox, MemoryCursor()))
    # Another team: a durable pull consumer on every account's payment events.
    subscription = await js.pull_subscribe(
        f"{stream_settings.subject_prefix}.*.payment.>",
        durable="other_team",
        stream=stream_settings.name,
    )
    [msg] = await subscription.fetch(1, timeout=2)
    await msg.ack()
    assert msg.subject == f"{stream_settings.subject_prefix}.acct_a.payment.succeeded"
    assert msg.data == wanted.snapshot
    assert msg.headers is not None
    assert msg.headers[MSG_ID] == wanted.event_id
    assert msg.headers["Payments-Event-Type"] == "payment.succeeded"
    assert all_events(stream_settings.subject_prefix) == f"{stream_settings.subject_prefix}.>"


async def _until(condition: object, timeout_s: float = 10.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)

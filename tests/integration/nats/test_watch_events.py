"""EventService wired to JetStream (``nats_url`` set; an in-process server on each backend):
WatchEvents catches up and streams live from the stream the relay fills, within a second,
resumes after a cursor (ListEvents' cursors too: both are outbox positions), filters by
``<kind>.*``, sends heartbeats and ends at the shutdown's drain with its cursor."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import grpc.aio
import pytest
from nats.js import JetStreamContext
from payments.v1 import event_service_pb2 as pb

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.nats.stream import StreamSettings
from tests.integration.events.test_event_service import add_payments, events_stub, token
from tests.integration.nats.conftest import nats_url
from tests.integration.nats.support import PrivateNats
from tests.support.localstripe import LocalStripe
from tests.support.stack import Stack, error_details, stack_settings, start_stack


async def _stack(
    database_url: str, localstripe: LocalStripe, stream: StreamSettings, **settings: Any
) -> Stack:
    values: dict[str, Any] = {
        "events_heartbeat_s": 30.0,
        "nats_url": nats_url(),
        "nats_publish_timeout_s": 2.0,
        "nats_stream": stream.name,
        "nats_subject_prefix": stream.subject_prefix,
        "nats_stream_storage": "memory",
        **settings,
    }
    return await start_stack(stack_settings(database_url, localstripe.base_url, **values))


async def _next_event(stream: Any, within_s: float = 5.0) -> pb.WatchEventsResponse:
    while True:
        message: pb.WatchEventsResponse = await asyncio.wait_for(stream.read(), within_s)
        assert message is not grpc.aio.EOF
        if not message.heartbeat:
            return message


async def _read_to_the_end(stream: Any) -> None:
    while await asyncio.wait_for(stream.read(), 5) is not grpc.aio.EOF:
        pass


async def test_watch_from_jetstream_catches_up_streams_live_and_resumes(
    database_url: str,
    localstripe: LocalStripe,
    uow_factory: SqlUnitOfWorkFactory,
    js: JetStreamContext,
    stream_settings: StreamSettings,
) -> None:
    stack = await _stack(database_url, localstripe, stream_settings)
    try:
        old = await add_payments(uow_factory, "acct_nw", 2)
        stub = events_stub(stack)
        stream = stub.WatchEvents(
            pb.WatchEventsRequest(account_id="acct_nw", types=["payment.*"]), metadata=token()
        )
        assert [(await _next_event(stream)).event.object_id for _ in old] == old
        lags, live = [], []
        for _ in range(3):
            started = time.monotonic()
            (new,) = await add_payments(uow_factory, "acct_nw", 1)
            message = await _next_event(stream)
            lags.append(time.monotonic() - started)
            assert message.event.object_id == new
            live.append(new)
            assert message.event.type == "payment.created"
            assert message.event.payment.id == new  # the snapshot crossed JetStream
            assert message.cursor == message.event.cursor
        assert max(lags) < 1.0, lags
        stream.cancel()
        # A cursor from ListEvents (the outbox table) resumes the JetStream stream.
        listed = await stub.ListEvents(
            pb.ListEventsRequest(account_id="acct_nw", page_size=2), metadata=token()
        )
        missed = await add_payments(uow_factory, "acct_nw", 2)
        resumed = stub.WatchEvents(
            pb.WatchEventsRequest(account_id="acct_nw", after_cursor=listed.cursor),
            metadata=token(),
        )
        got = [(await _next_event(resumed)).event.object_id for _ in range(5)]
        assert got == [*live, *missed]  # after the listed page: the live ones, the missed
        resumed.cancel()
        info = await js.stream_info(stream_settings.name)
        assert info.state.messages >= 7  # the relay filled the stream
    finally:
        await stack.stop()


async def test_jetstream_heartbeats_and_the_drain(
    database_url: str,
    localstripe: LocalStripe,
    js: JetStreamContext,
    stream_settings: StreamSettings,
) -> None:
    stack = await _stack(
        database_url,
        localstripe,
        stream_settings,
        events_heartbeat_s=0.3,
        shutdown_drain_s=0.2,
        shutdown_grace_s=5,
    )
    stream = events_stub(stack).WatchEvents(
        pb.WatchEventsRequest(account_id="acct_nw_quiet", from_now=True), metadata=token()
    )
    first = await asyncio.wait_for(stream.read(), 5)
    second = await asyncio.wait_for(stream.read(), 5)
    assert first.heartbeat
    assert second.heartbeat
    assert first.cursor
    started = time.monotonic()
    stopping = asyncio.ensure_future(stack.app.stop())
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await _read_to_the_end(stream)
    await stopping
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_details(ended.value).reason == "EVENT_STREAM_CLOSED"
    assert time.monotonic() - started < 2.0
    await stack.channel.close()


async def test_a_stream_opened_while_nats_is_away_is_unavailable_with_its_cursor(
    database_url: str, localstripe: LocalStripe, private_nats: PrivateNats
) -> None:
    stream_settings = StreamSettings(name="PRIVATE_EVENTS", subject_prefix="private.events")
    stack = await _stack(
        database_url, localstripe, stream_settings, shutdown_grace_s=5, nats_url=private_nats.url
    )
    try:
        private_nats.stop()
        stream = events_stub(stack).WatchEvents(
            pb.WatchEventsRequest(account_id="acct_nw_away"), metadata=token()
        )
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await asyncio.wait_for(stream.read(), 30)  # the feed's NATS requests time out
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(ended.value).reason == "EVENT_STREAM_CLOSED"
    finally:
        started = time.monotonic()
        await stack.stop()
        assert time.monotonic() - started < 15  # NATS away never holds the shutdown

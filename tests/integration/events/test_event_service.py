"""EventService over gRPC (an in-process server on each backend): ListEvents paging,
filters and account isolation; WatchEvents catch-up then live, resume, heartbeats, a slow
consumer cut with its resume cursor, scopes, bad input, the shutdown's drain."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from payments.v1 import event_service_pb2 as pb
from payments.v1 import event_service_pb2_grpc

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.states import PaymentState
from tests.integration.db import builders as b
from tests.support.localstripe import LocalStripe
from tests.support.server import bearer, make_token
from tests.support.stack import Stack, error_details, stack_settings, start_stack

Metadata = tuple[tuple[str, str], ...]


def token(account_id: str | None = None, scopes: str = "events:read") -> Metadata:
    return bearer(make_token(scopes, sub="svc-ledger", account_id=account_id))


async def _stack(database_url: str, localstripe: LocalStripe, **settings: Any) -> Stack:
    values: dict[str, Any] = {"events_heartbeat_s": 30.0, **settings}
    return await start_stack(stack_settings(database_url, localstripe.base_url, **values))


@pytest.fixture
async def stack(
    database_url: str, localstripe: LocalStripe, uow_factory: SqlUnitOfWorkFactory
) -> AsyncIterator[Stack]:
    running = await _stack(database_url, localstripe)
    yield running
    await running.stop()


def events_stub(stack: Stack) -> event_service_pb2_grpc.EventServiceStub:
    return event_service_pb2_grpc.EventServiceStub(stack.channel)


async def add_payments(
    uow_factory: SqlUnitOfWorkFactory, account_id: str, count: int, *, succeed: bool = False
) -> list[str]:
    """``count`` new payments of one account (and their customer), one transaction."""
    c = b.customer(account_id)
    ids = []
    async with uow_factory() as uow:
        if await uow.customers.get_by_account(account_id) is None:
            await uow.customers.add(c)
        else:
            c = await uow.customers.get_by_account(account_id)  # type: ignore[assignment]
        for _ in range(count):
            p = b.payment(c, state=PaymentState.PENDING, stripe_payment_intent_id=None)
            await uow.payments.add(p)
            ids.append(p.id)
        await uow.commit()
    if succeed:
        async with uow_factory() as uow:
            for pid in ids:
                row = await uow.payments.get_for_update(pid)
                assert row is not None
                row.state = PaymentState.SUCCEEDED
                await uow.payments.update(row)
            await uow.commit()
    return ids


async def test_list_events_pages_filters_and_isolation(
    stack: Stack, uow_factory: SqlUnitOfWorkFactory
) -> None:
    ours = await add_payments(uow_factory, "acct_ev_a", 3, succeed=True)
    theirs = await add_payments(uow_factory, "acct_ev_b", 2)
    stub = events_stub(stack)
    seen: list[pb.Event] = []
    request = pb.ListEventsRequest(page_size=2)
    while True:
        page = await stub.ListEvents(request, metadata=token())
        assert len(page.events) <= 2
        seen.extend(page.events)
        if not page.next_page_token:
            break
        request = pb.ListEventsRequest(page_size=2, page_token=page.next_page_token)
    assert len(seen) == 3 * 2 + 2  # created + succeeded for ours, created for theirs
    assert len({e.cursor for e in seen}) == len(seen)  # pages neither overlap nor repeat
    assert {e.object_id for e in seen} == {*ours, *theirs}
    assert all(e.payment.id == e.object_id for e in seen)

    succeeded = await stub.ListEvents(
        pb.ListEventsRequest(types=["payment.succeeded"]), metadata=token()
    )
    assert sorted(e.object_id for e in succeeded.events) == sorted(ours)
    assert all(e.payment.state == 7 for e in succeeded.events)  # PAYMENT_STATE_SUCCEEDED

    only_b = await stub.ListEvents(pb.ListEventsRequest(), metadata=token("acct_ev_b"))
    assert {e.account_id for e in only_b.events} == {"acct_ev_b"}
    assert len(only_b.events) == 2
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await stub.ListEvents(
            pb.ListEventsRequest(account_id="acct_ev_a"), metadata=token("acct_ev_b")
        )
    assert other.value.code() == grpc.StatusCode.NOT_FOUND

    after = await stub.ListEvents(
        pb.ListEventsRequest(after_cursor=seen[4].cursor), metadata=token()
    )
    assert [e.id for e in after.events] == [e.id for e in seen[5:]]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"after_cursor": "not-a-cursor"}, "after_cursor"),
        ({"types": ["coupon.created"]}, "types[0]"),
        ({"types": ["payment.succeeded", "payment.a.b"]}, "types[1]"),
        ({"page_size": -1}, "page_size"),
        ({"page_token": "bm9wZQ.123"}, "page_token"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    stack: Stack, request_fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await events_stub(stack).ListEvents(
            pb.ListEventsRequest(**request_fields), metadata=token()
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(refused.value).field_violations


async def test_events_need_the_events_read_scope(stack: Stack) -> None:
    stub = events_stub(stack)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListEvents(pb.ListEventsRequest(), metadata=token(scopes="payments:read"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stream = stub.WatchEvents(pb.WatchEventsRequest(), metadata=token(scopes="payments:read"))
    with pytest.raises(grpc.aio.AioRpcError) as refused_stream:
        await stream.read()
    assert refused_stream.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def _next_event(stream: Any, within_s: float = 5.0) -> pb.WatchEventsResponse:
    while True:
        message: pb.WatchEventsResponse = await asyncio.wait_for(stream.read(), within_s)
        assert message is not grpc.aio.EOF
        if not message.heartbeat:
            return message


async def test_watch_catches_up_then_streams_live_within_a_second_and_resumes(
    stack: Stack, uow_factory: SqlUnitOfWorkFactory
) -> None:
    old = await add_payments(uow_factory, "acct_ev_w", 2)
    stub = events_stub(stack)
    stream = stub.WatchEvents(pb.WatchEventsRequest(account_id="acct_ev_w"), metadata=token())
    caught_up = [await _next_event(stream) for _ in old]
    assert [m.event.object_id for m in caught_up] == old
    lags = []
    for _ in range(3):
        started = time.monotonic()
        (new,) = await add_payments(uow_factory, "acct_ev_w", 1)
        message = await _next_event(stream)
        lags.append(time.monotonic() - started)
        assert message.event.object_id == new
        assert message.event.type == "payment.created"
        assert message.cursor == message.event.cursor
    assert max(lags) < 1.0, lags
    last = message.cursor
    stream.cancel()
    # Events committed while nobody watched come first on resuming after the cursor.
    missed = await add_payments(uow_factory, "acct_ev_w", 2)
    resumed = stub.WatchEvents(
        pb.WatchEventsRequest(account_id="acct_ev_w", after_cursor=last), metadata=token()
    )
    assert [(await _next_event(resumed)).event.object_id for _ in missed] == missed
    resumed.cancel()


async def test_watch_sends_heartbeats_with_its_cursor(
    database_url: str, localstripe: LocalStripe, uow_factory: SqlUnitOfWorkFactory
) -> None:
    stack = await _stack(database_url, localstripe, events_heartbeat_s=0.3)
    try:
        await add_payments(uow_factory, "acct_ev_other", 1)
        stream = events_stub(stack).WatchEvents(
            pb.WatchEventsRequest(account_id="acct_ev_quiet"), metadata=token()
        )
        started = time.monotonic()
        first = await asyncio.wait_for(stream.read(), 5)
        second = await asyncio.wait_for(stream.read(), 5)
        assert first.heartbeat
        assert second.heartbeat
        assert time.monotonic() - started < 2.0
        assert first.cursor  # past the other account's event
        stream.cancel()
    finally:
        await stack.stop()


async def test_a_slow_consumer_is_cut_with_its_resume_cursor_and_others_go_on(
    database_url: str, localstripe: LocalStripe, uow_factory: SqlUnitOfWorkFactory
) -> None:
    stack = await _stack(database_url, localstripe, events_stream_buffer=5)
    try:
        stub = events_stub(stack)
        slow = stub.WatchEvents(
            pb.WatchEventsRequest(account_id="acct_ev_slow", from_now=True), metadata=token()
        )
        fast = stub.WatchEvents(
            pb.WatchEventsRequest(account_id="acct_ev_fast", from_now=True), metadata=token()
        )
        await asyncio.sleep(0.3)  # both subscribed
        written = []
        for _ in range(6):
            written += await add_payments(uow_factory, "acct_ev_slow", 150)
        (fast_id,) = await add_payments(uow_factory, "acct_ev_fast", 1)
        assert (await _next_event(fast)).event.object_id == fast_id  # not stalled
        received: list[str] = []

        async def read_until_cut() -> None:
            while True:
                message = await asyncio.wait_for(slow.read(), 10)
                assert message is not grpc.aio.EOF
                if not message.heartbeat:
                    received.append(message.event.object_id)

        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await read_until_cut()
        details = error_details(cut.value)
        assert cut.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.reason == "EVENT_STREAM_BEHIND"
        resume = details.metadata["resume_cursor"]
        assert resume in cut.value.details()
        assert 0 < len(received) < len(written)
        resumed = stub.WatchEvents(
            pb.WatchEventsRequest(account_id="acct_ev_slow", after_cursor=resume),
            metadata=token(),
        )
        for _ in range(len(written) - len(received)):
            received.append((await _next_event(resumed)).event.object_id)
        assert received == written  # no gap, no repeat
        resumed.cancel()
        fast.cancel()
    finally:
        await stack.stop()


async def test_open_streams_end_at_the_drain_with_their_cursor(
    database_url: str, localstripe: LocalStripe, uow_factory: SqlUnitOfWorkFactory
) -> None:
    stack = await _stack(database_url, localstripe, shutdown_drain_s=0.2, shutdown_grace_s=5)
    stream = events_stub(stack).WatchEvents(pb.WatchEventsRequest(from_now=True), metadata=token())
    await asyncio.sleep(0.2)
    started = time.monotonic()
    stopping = asyncio.ensure_future(stack.app.stop())
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await asyncio.wait_for(stream.read(), 5)
    await stopping
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_details(ended.value).reason == "EVENT_STREAM_CLOSED"
    assert time.monotonic() - started < 2.0  # not held for the whole grace
    await stack.channel.close()

"""Events across replicas: a payment made on replica A reaches a WatchEvents stream held on
replica B within a second, on the embedded engine (PostgreSQL LISTEN/NOTIFY wakes B's
tail) and on JetStream (A's or B's relay publishes, B's feed reads); the relay is taken
over when its replica is killed, and nothing committed meanwhile is lost or repeated; any
NATS client reads the events on ``<prefix>.<account>.payment.*``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc.aio
import nats
import nats.errors
import pytest
from nats.js.api import DeliverPolicy
from payments.v1 import event_service_pb2 as event_pb
from payments.v1 import event_service_pb2_grpc, payment_service_pb2_grpc
from payments.v1 import payment_service_pb2 as pb

from payment_service.app.events.cursors import decode_cursor
from tests.e2e.replicas.conftest import NatsStream
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token

LIVE_S = 1.0


def _auth() -> tuple[tuple[str, str], ...]:
    return bearer(make_token())


async def _pay(replica: ServerProcess, account: str, pm: str) -> pb.Payment:
    async with grpc.aio.insecure_channel(replica.grpc_target) as channel:
        answer = await payment_service_pb2_grpc.PaymentServiceStub(channel).CreatePayment(
            pb.CreatePaymentRequest(
                request_id=f"req-{uuid.uuid4()}",
                account_id=account,
                amount=1050,
                currency_code="usd",
                stripe_payment_method_id=pm,
                confirm=True,
            ),
            metadata=_auth(),
            timeout=20,
        )
    payment: pb.Payment = answer.payment
    assert payment.state == pb.PAYMENT_STATE_SUCCEEDED
    return payment


async def _next(stream: Any, *, within_s: float = 10.0, live: bool = True) -> event_pb.Event:
    """The next event on ``stream``; a live one must come within a second of its commit."""
    while True:
        message = await asyncio.wait_for(stream.read(), within_s)
        assert message is not grpc.aio.EOF
        if message.heartbeat:
            continue
        event: event_pb.Event = message.event
        if live:
            lag = time.time() - event.create_time.ToNanoseconds() / 1e9
            assert lag < LIVE_S, (event.type, lag)
        return event


async def _payment_reaches_the_other_replica(
    a: ServerProcess, b: ServerProcess, localstripe: LocalStripe
) -> tuple[str, pb.Payment, list[event_pb.Event]]:
    account = f"acct_{uuid.uuid4().hex[:12]}"
    pm = await localstripe.create_card_payment_method()
    async with grpc.aio.insecure_channel(b.grpc_target) as channel:
        stream = event_service_pb2_grpc.EventServiceStub(channel).WatchEvents(
            event_pb.WatchEventsRequest(account_id=account, from_now=True), metadata=_auth()
        )
        await asyncio.sleep(0.5)  # the stream is open on B before the payment is made
        payment = await _pay(a, account, pm)
        seen = [await _next(stream), await _next(stream)]
        stream.cancel()
    assert [e.type for e in seen] == ["payment.created", "payment.succeeded"]
    assert {e.object_id for e in seen} == {payment.id}
    assert seen[1].payment.state == pb.PAYMENT_STATE_SUCCEEDED
    return account, payment, seen


async def test_embedded_a_payment_on_a_reaches_a_stream_on_b(
    replicas: tuple[ServerProcess, ServerProcess], localstripe: LocalStripe
) -> None:
    a, b = replicas
    await _payment_reaches_the_other_replica(a, b, localstripe)


async def test_nats_a_payment_on_a_reaches_a_stream_on_b_and_a_plain_nats_client(
    nats_replica_env: dict[str, str], nats_stream: NatsStream, localstripe: LocalStripe
) -> None:
    with ServerProcess.start(nats_replica_env) as a, ServerProcess.start(nats_replica_env) as b:
        account, payment, seen = await _payment_reaches_the_other_replica(a, b, localstripe)

    # Another team's consumer: nats-py alone, on the documented subject.
    client = await nats.connect(nats_stream.url)
    try:
        js = client.jetstream()
        subject = f"{nats_stream.prefix}.{account}.payment.*"
        sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        messages = [await sub.next_msg(timeout=5) for _ in range(2)]
        await sub.unsubscribe()
    finally:
        await client.close()
    assert [m.subject for m in messages] == [
        f"{nats_stream.prefix}.{account}.payment.created",
        f"{nats_stream.prefix}.{account}.payment.succeeded",
    ]
    assert [(m.headers or {}).get("Nats-Msg-Id") for m in messages] == [e.id for e in seen]
    assert all((m.headers or {}).get("Payments-Object-Id") == payment.id for m in messages)
    succeeded = pb.Payment.FromString(messages[1].data)
    assert succeeded.id == payment.id
    assert succeeded.state == pb.PAYMENT_STATE_SUCCEEDED


async def test_nats_the_relay_is_taken_over_when_its_replica_is_killed(
    nats_replica_env: dict[str, str], nats_stream: NatsStream, localstripe: LocalStripe
) -> None:
    account = f"acct_{uuid.uuid4().hex[:12]}"
    pm = await localstripe.create_card_payment_method()
    with ServerProcess.start(nats_replica_env) as a:
        # A runs alone first, so its relay holds the lock; then B joins and waits on it.
        await _pay(a, account, pm)
        with ServerProcess.start(nats_replica_env) as b:
            async with grpc.aio.insecure_channel(b.grpc_target) as channel:
                stream = event_service_pb2_grpc.EventServiceStub(channel).WatchEvents(
                    event_pb.WatchEventsRequest(account_id=account), metadata=_auth()
                )
                before = [await _next(stream, live=False) for _ in range(2)]
                a.kill()  # SIGKILL: no shutdown, the relay's lock goes with its connection
                made = [await _pay(b, account, pm) for _ in range(3)]
                # B's relay takes over (it retries the lock every 15 s) and publishes them.
                after = [await _next(stream, within_s=40, live=False) for _ in range(6)]
                stream.cancel()
    events = before + after
    assert len({e.id for e in events}) == 8  # each once
    positions = [decode_cursor(e.cursor) for e in events]
    assert positions == sorted(positions)
    for payment in made:
        assert [e.type for e in after if e.object_id == payment.id] == [
            "payment.created",
            "payment.succeeded",
        ]
    # The stream itself holds each event once (Nats-Msg-Id dedupe, expected-sequence order).
    client = await nats.connect(nats_stream.url)
    try:
        js = client.jetstream()
        sub = await js.subscribe(
            f"{nats_stream.prefix}.{account}.>",
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        ids = [(await sub.next_msg(timeout=5)).headers or {} for _ in range(8)]
        with pytest.raises(nats.errors.TimeoutError):
            await sub.next_msg(timeout=1)
        await sub.unsubscribe()
    finally:
        await client.close()
    assert [h.get("Nats-Msg-Id") for h in ids] == [e.id for e in events]

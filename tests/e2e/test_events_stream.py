"""WatchEvents against the real server process (every backend): a stream opened before a
payment and a refund are made sees each of their state changes within a second, in
order, also the one a Stripe webhook brings (the customer confirming at Stripe); another
process resumes after a cursor (a restart)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc.aio
from payments.v1 import event_service_pb2 as event_pb
from payments.v1 import event_service_pb2_grpc, refund_service_pb2_grpc
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import refund_service_pb2 as refund_pb

from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from tests.e2e.test_webhooks_delivery import (  # noqa: F401  (shared fixtures)
    registered,
    server,
    stub,
    webhook_server_env,
)
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token


def _auth() -> tuple[tuple[str, str], ...]:
    return bearer(make_token())


LAGS: list[float] = []


async def _next(stream: Any, *, live: bool = True) -> event_pb.Event:
    """The next event; a live one must come within a second of its commit."""
    while True:
        message = await asyncio.wait_for(stream.read(), 10)
        assert message is not grpc.aio.EOF
        if not message.heartbeat:
            event: event_pb.Event = message.event
            if live:
                lag = time.time() - event.create_time.ToNanoseconds() / 1e9
                LAGS.append(lag)
                assert lag < 1.0, (event.type, lag)
            return event


async def test_a_stream_sees_a_payment_and_a_refund_as_they_happen(
    registered: str,  # noqa: F811
    stub: Any,  # noqa: F811
    server: ServerProcess,  # noqa: F811
    localstripe: LocalStripe,
    database_url: str,
) -> None:
    account = f"acct_{uuid.uuid4().hex[:12]}"
    pm = await localstripe.create_card_payment_method()
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        events = event_service_pb2_grpc.EventServiceStub(channel)
        refunds = refund_service_pb2_grpc.RefundServiceStub(channel)
        stream = events.WatchEvents(
            event_pb.WatchEventsRequest(account_id=account), metadata=_auth()
        )
        await asyncio.sleep(0.3)
        created = await stub.CreatePayment(
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
        payment = created.payment
        assert payment.state == pb.PAYMENT_STATE_SUCCEEDED
        first, second = await _next(stream), await _next(stream)
        assert [first.type, second.type] == ["payment.created", "payment.succeeded"]
        assert {first.object_id, second.object_id} == {payment.id}
        assert second.payment.state == pb.PAYMENT_STATE_SUCCEEDED
        assert second.payment.amount_received == 1050

        refunded = await refunds.CreateRefund(
            refund_pb.CreateRefundRequest(
                request_id=f"req-{uuid.uuid4()}", payment_id=payment.id, amount=300
            ),
            metadata=_auth(),
            timeout=20,
        )
        seen = [await _next(stream) for _ in range(3)]
        assert sorted(e.type for e in seen) == [
            "payment.partially_refunded",
            "refund.created",
            "refund.succeeded",
        ]
        assert [e.type for e in seen if e.object_type == "refund"] == [
            "refund.created",
            "refund.succeeded",
        ]
        by_type = {e.type: e for e in seen}
        assert by_type["refund.succeeded"].refund.id == refunded.refund.id
        assert by_type["payment.partially_refunded"].payment.amount_refunded == 300
        cursors = [e.cursor for e in (first, second, *seen)]
        stream.cancel()

    # Another server process (a restart: nothing kept in memory) resumes after the
    # payment's success with the rest, in the same order.
    with ServerProcess.start(webhook_server_env(database_url, localstripe)) as restarted:
        async with grpc.aio.insecure_channel(restarted.grpc_target) as channel:
            again = event_service_pb2_grpc.EventServiceStub(channel).WatchEvents(
                event_pb.WatchEventsRequest(account_id=account, after_cursor=cursors[1]),
                metadata=_auth(),
            )
            assert [(await _next(again, live=False)).cursor for _ in seen] == cursors[2:]
            again.cancel()


async def test_a_payment_confirmed_at_stripe_arrives_through_the_webhook(
    registered: str,  # noqa: F811
    stub: Any,  # noqa: F811
    server: ServerProcess,  # noqa: F811
    localstripe: LocalStripe,
) -> None:
    account = f"acct_{uuid.uuid4().hex[:12]}"
    pm = await localstripe.create_card_payment_method()
    created = await stub.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=f"req-{uuid.uuid4()}",
            account_id=account,
            amount=1050,
            currency_code="usd",
            stripe_payment_method_id=pm,
            confirm=False,
        ),
        metadata=_auth(),
        timeout=20,
    )
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        events = event_service_pb2_grpc.EventServiceStub(channel)
        stream = events.WatchEvents(
            event_pb.WatchEventsRequest(account_id=account, types=["payment.succeeded"]),
            metadata=_auth(),
        )
        gateway = StripeGateway(
            StripeGatewayConfig(api_key=localstripe.api_key, api_base=localstripe.base_url)
        )
        try:  # the customer confirms in the browser, not through us
            await gateway.confirm_payment_intent(
                created.payment.stripe_payment_intent_id,
                idempotency_key=f"{created.payment.id}:browser",
                payment_method=pm,
            )
        finally:
            await gateway.close()
        event = await _next(stream)
        assert event.object_id == created.payment.id
        assert event.payment.state == pb.PAYMENT_STATE_SUCCEEDED
        stream.cancel()

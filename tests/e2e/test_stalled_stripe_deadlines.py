"""A stalled Stripe is reported by the server before the caller's deadline, never left to it.

The real server process (SQLite and PostgreSQL) calls localstripe through the outage
proxy, which holds every request without an answer while stalled. Each write made then
must end in the server's UNAVAILABLE with RetryInfo ("the outcome is not known yet;
retry with the same request_id"), not in the caller's own DEADLINE_EXCEEDED, also with
many calls at once; and once Stripe is back, the same request_id finishes the work with
one Stripe object. The server's Stripe timeout (20 s, 2 retries) is far longer than the
deadline, so only the deadline handling can end these calls in time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2 as pay_pb
from payments.v1 import (
    payment_service_pb2_grpc,
    refund_service_pb2_grpc,
    subscription_service_pb2_grpc,
)
from payments.v1 import refund_service_pb2 as refund_pb
from payments.v1 import subscription_service_pb2 as sub_pb

from tests.integration.refunds.helpers import refunds_at_stripe
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.server import ServerProcess, bearer, make_token, server_env
from tests.support.stack import error_details

DEADLINE_S = 2.0
CALLS = 20
# Every call made while Stripe is stalled must end like this.
REPORTED = "UNAVAILABLE with RetryInfo"
# Generous, for calls made while Stripe answers.
CALL_TIMEOUT_S = 30.0
AUTH = bearer(make_token())


@pytest.fixture(scope="module")
def server(
    database_url: str, localstripe: LocalStripe, stripe_outage_proxy: OutageProxy
) -> Iterator[ServerProcess]:
    env = server_env(
        database_url=database_url,
        stripe_api_base=stripe_outage_proxy.base_url,
        stripe_api_key=localstripe.api_key,
        stripe_timeout_s="20",
        stripe_max_network_retries="2",
        reconcile_interval_s="0",
    )
    with ServerProcess.start(env) as process:
        yield process


async def _outcome(call: Awaitable[Any]) -> str:
    """How a call ended: OK, or its code, and whether the server's RetryInfo came with it."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        details = error_details(error)
        return details.code.name + (" with RetryInfo" if details.retry_delay_s is not None else "")
    return "OK"


async def _account_with_card(channel: grpc.aio.Channel, localstripe: LocalStripe) -> str:
    account = f"acct_{uuid.uuid4().hex[:12]}"
    await payment_service_pb2_grpc.PaymentServiceStub(channel).AttachPaymentMethod(
        pay_pb.AttachPaymentMethodRequest(
            request_id=f"card-{uuid.uuid4()}",
            account_id=account,
            stripe_payment_method_id=await localstripe.create_card_payment_method(),
            set_default=True,
        ),
        metadata=AUTH,
        timeout=CALL_TIMEOUT_S,
    )
    return account


async def test_concurrent_payments_on_a_stalled_stripe_are_unavailable_then_retried_once(
    server: ServerProcess, localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        account = await _account_with_card(channel, localstripe)
        requests = [
            pay_pb.CreatePaymentRequest(
                request_id=f"stalled-{i}-{uuid.uuid4()}",
                account_id=account,
                amount=500 + i,
                currency_code="usd",
                confirm=True,
            )
            for i in range(CALLS)
        ]
        outage_proxy.stall()
        outcomes = await asyncio.gather(
            *(_outcome(stub.CreatePayment(r, metadata=AUTH, timeout=DEADLINE_S)) for r in requests)
        )
        assert Counter(outcomes) == {REPORTED: CALLS}
        outage_proxy.up()
        paid = []
        for request in requests:
            response = await stub.CreatePayment(request, metadata=AUTH, timeout=CALL_TIMEOUT_S)
            payment = response.payment
            assert (payment.state, payment.amount) == (
                pay_pb.PAYMENT_STATE_SUCCEEDED,
                request.amount,
            )
            paid.append(payment.id)
        intents = await localstripe.payment_intents_per("payment_id")
        assert {payment_id: intents[payment_id] for payment_id in paid} == dict.fromkeys(paid, 1)


async def test_a_refund_on_a_stalled_stripe_is_unavailable_then_retried_once(
    server: ServerProcess, localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        account = await _account_with_card(channel, localstripe)
        paid = await payment_service_pb2_grpc.PaymentServiceStub(channel).CreatePayment(
            pay_pb.CreatePaymentRequest(
                request_id=f"paid-{uuid.uuid4()}",
                account_id=account,
                amount=2000,
                currency_code="usd",
                confirm=True,
            ),
            metadata=AUTH,
            timeout=CALL_TIMEOUT_S,
        )
        refunds = refund_service_pb2_grpc.RefundServiceStub(channel)
        request = refund_pb.CreateRefundRequest(
            request_id=f"refund-{uuid.uuid4()}", payment_id=paid.payment.id, amount=700
        )
        outage_proxy.stall()
        assert await _outcome(refunds.CreateRefund(request, metadata=AUTH, timeout=DEADLINE_S)) == (
            REPORTED
        )
        outage_proxy.up()
        refund = (await refunds.CreateRefund(request, metadata=AUTH, timeout=CALL_TIMEOUT_S)).refund
    assert (refund.state, refund.amount) == (refund_pb.REFUND_STATE_SUCCEEDED, 700)
    stripe_id = paid.payment.stripe_payment_intent_id
    assert len(await refunds_at_stripe(localstripe, stripe_id)) == 1


async def _price(channel: grpc.aio.Channel, localstripe: LocalStripe) -> sub_pb.Price:
    """A monthly price made in Stripe, as ListPrices mirrors it."""
    made = await localstripe.request(
        "POST",
        "/v1/prices",
        {
            "currency": "usd",
            "unit_amount": "1100",
            "recurring[interval]": "month",
            "product_data[name]": f"Stalled {uuid.uuid4().hex[:6]}",
        },
    )
    prices = await subscription_service_pb2_grpc.SubscriptionServiceStub(channel).ListPrices(
        sub_pb.ListPricesRequest(page_size=200), metadata=AUTH, timeout=CALL_TIMEOUT_S
    )
    return next(p for p in prices.prices if p.stripe_price_id == made["id"])


async def test_a_subscription_on_a_stalled_stripe_is_unavailable_then_retried_once(
    server: ServerProcess, localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        account = await _account_with_card(channel, localstripe)
        price = await _price(channel, localstripe)
        subscriptions = subscription_service_pb2_grpc.SubscriptionServiceStub(channel)
        request = sub_pb.CreateSubscriptionRequest(
            request_id=f"subscribe-{uuid.uuid4()}", account_id=account, price_id=price.id
        )
        outage_proxy.stall()
        outcome = await _outcome(
            subscriptions.CreateSubscription(request, metadata=AUTH, timeout=DEADLINE_S)
        )
        assert outcome == REPORTED
        outage_proxy.up()
        subscription = (
            await subscriptions.CreateSubscription(request, metadata=AUTH, timeout=CALL_TIMEOUT_S)
        ).subscription
    assert subscription.state == sub_pb.SUBSCRIPTION_STATE_ACTIVE
    at_stripe = [
        s
        for s in await localstripe.list_objects("subscriptions")
        if s["metadata"].get("subscription_id") == subscription.id
    ]
    assert len(at_stripe) == 1

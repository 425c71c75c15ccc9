"""Stripe's refunded total as observed (a dashboard refund seen through a PaymentIntent read)
is never lowered by our own rows: no over-refund, and a failed refund still gives back."""

from __future__ import annotations

import pytest

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, mapping
from payment_service.app.refunds.events import refund_event_handlers
from payment_service.app.refunds.rules import CreateRefund, ListRefunds, RefundRules
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.clock import api_read_time
from payment_service.domain.errors import FailedPrecondition, Unavailable
from payment_service.domain.pagination import PageRequest
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import PaymentRefundState, RefundState
from tests.integration.refunds.helpers import (
    StoredPayment,
    refunds_at_stripe,
    stored_payment,
    succeeded_payment,
)
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy

SUPPORT = Caller("svc-support", frozenset({"refunds:write", "refunds:read"}))


async def _dashboard_refund_seen_through_the_payment_intent(
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    paid: StoredPayment,
    amount: int,
) -> None:
    """Someone refunds in the Stripe dashboard (localstripe sends no refund.* event); we only
    see it in the PaymentIntent's latest charge when the payment is read again."""
    await localstripe.request(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": str(amount)}
    )
    intent = await gateway.retrieve_payment_intent(paid.stripe_id)
    async with uow_factory() as uow:
        payment = await uow.payments.get_for_update(paid.id)
        assert payment is not None
        payment.apply_intent(intent, api_read_time())
        await uow.payments.update(payment)
        await uow.commit()
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == amount


async def test_dashboard_refund_seen_on_the_payment_intent_is_never_refunded_again(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    await _dashboard_refund_seen_through_the_payment_intent(
        uow_factory, gateway, localstripe, paid, 600
    )

    ours = await refunds.create(
        SUPPORT, CreateRefund(request_id="a", payment_id=paid.id, amount=400)
    )
    assert ours.state is RefundState.SUCCEEDED
    payment = await stored_payment(uow_factory, paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (1000, PaymentRefundState.REFUNDED)

    with pytest.raises(FailedPrecondition) as raised:
        await refunds.create(SUPPORT, CreateRefund(request_id="b", payment_id=paid.id, amount=600))
    assert raised.value.reason == "REFUND_EXCEEDS_REFUNDABLE"
    assert raised.value.metadata["refundable"] == "0"
    at_stripe = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert sorted(int(r["amount"]) for r in at_stripe) == [400, 600]  # never 1600 on 1000

    # The dashboard refund was imported before reserving: it shows in ListRefunds.
    listed = await refunds.list(SUPPORT, ListRefunds(PageRequest(), payment_id=paid.id))
    assert sorted((r.amount, r.state) for r in listed.items) == [
        (400, RefundState.SUCCEEDED),
        (600, RefundState.SUCCEEDED),
    ]


async def test_unexplained_stripe_total_and_stripe_away_is_unavailable_and_reserves_nothing(
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    proxied_gateway: StripeGateway,
    outage_proxy: OutageProxy,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    await _dashboard_refund_seen_through_the_payment_intent(
        uow_factory, gateway, localstripe, paid, 600
    )
    refunds = Refunds(uow_factory, proxied_gateway, MemoryCache(), RefundRules(pending_grace_s=0))
    outage_proxy.down()
    with pytest.raises(Unavailable):
        await refunds.create(SUPPORT, CreateRefund(request_id="u", payment_id=paid.id, amount=1))
    async with uow_factory(read_only=True) as uow:
        assert await uow.refunds.sum_refundable_reserved(paid.id) == 0
    outage_proxy.up()
    ours = await refunds.create(SUPPORT, CreateRefund(request_id="u", payment_id=paid.id))
    assert (ours.amount, ours.state) == (400, RefundState.SUCCEEDED)


async def test_failed_refund_gives_back_without_forgetting_stripes_total(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    await _dashboard_refund_seen_through_the_payment_intent(
        uow_factory, gateway, localstripe, paid, 600
    )
    ours = await refunds.create(SUPPORT, CreateRefund(request_id="f", payment_id=paid.id))
    assert (ours.amount, ours.state) == (400, RefundState.SUCCEEDED)
    assert ours.stripe_refund_id is not None

    failed = {
        "id": ours.stripe_refund_id,
        "object": "refund",
        "amount": 400,
        "charge": None,
        "created": 1_900_000_000,
        "currency": "usd",
        "failure_reason": "expired_or_canceled_card",
        "metadata": {"refund_id": ours.id},
        "payment_intent": paid.stripe_id,
        "reason": None,
        "status": "failed",
    }
    handler = refund_event_handlers(mapping=mapping, processor=gateway)["refund.failed"]
    event = RemoteEvent("evt_failed_400", "refund.failed", 1_900_000_000, failed, None)
    async with uow_factory() as uow:
        await handler(event, uow)
        await uow.commit()
    payment = await stored_payment(uow_factory, paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (
        600,
        PaymentRefundState.PARTIALLY_REFUNDED,
    )
    again = await refunds.create(SUPPORT, CreateRefund(request_id="f2", payment_id=paid.id))
    assert (again.amount, again.state) == (400, RefundState.SUCCEEDED)
    with pytest.raises(FailedPrecondition):
        await refunds.create(SUPPORT, CreateRefund(request_id="f3", payment_id=paid.id, amount=1))

"""One refresh path: GetPayment and the reconciler quarantine a PaymentIntent that
contradicts the stored payment the same way (nothing applied, an audit row, the stored
payment stands)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Payment
from payment_service.domain.states import CaptureMethod, PaymentState
from tests.integration.webhooks.stack import CALLER, PaymentStack, build_stack
from tests.integration.webhooks.support import load_payment
from tests.support.localstripe import LocalStripe

Refresh = Callable[[PaymentStack, Payment], Awaitable[object]]


async def _through_get_payment(stack: PaymentStack, payment: Payment) -> object:
    return await stack.payments.get(CALLER, payment.id)


async def _through_the_reconciler(stack: PaymentStack, payment: Payment) -> object:
    return await stack.reconciler.refresh_stuck_payments()


async def _contradicted_payment(stack: PaymentStack, localstripe: LocalStripe) -> Payment:
    """A payment awaiting capture whose stored amount no longer matches its PaymentIntent,
    and which Stripe captured behind our back (so an applied refresh would show)."""
    pm = await localstripe.create_card_payment_method()
    payment = await stack.create(pm, amount=2500, capture_method=CaptureMethod.MANUAL)
    assert payment.state is PaymentState.REQUIRES_CAPTURE
    await localstripe.request(
        "POST", f"/v1/payment_intents/{payment.stripe_payment_intent_id}/capture"
    )
    async with stack.uow_factory() as uow:
        stored = await uow.payments.get_for_update(payment.id)
        assert stored is not None
        stored.amount = 9999
        stored.synced_at = utcnow() - timedelta(hours=1)
        await uow.payments.update(stored)
        await uow.commit()
    await stack.cache.delete(f"payment:{payment.id}")
    return payment


@pytest.mark.parametrize("refresh", [_through_get_payment, _through_the_reconciler])
async def test_a_contradicting_payment_intent_is_quarantined_not_applied(
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    refresh: Refresh,
) -> None:
    stack = build_stack(uow_factory, gateway)
    payment = await _contradicted_payment(stack, localstripe)

    await refresh(stack, payment)

    stored = await load_payment(uow_factory, payment.id)
    assert (stored.state, stored.amount) == (PaymentState.REQUIRES_CAPTURE, 9999)
    assert stored.amount_received == 0
    assert stored.synced_at is not None
    assert utcnow() - stored.synced_at < timedelta(minutes=1)  # read now: the backoff restarts
    async with uow_factory(read_only=True) as uow:
        trail = await uow.audit.list_for_object("payment", payment.id)
    [quarantined] = [entry for entry in trail if entry.action == "payments.refresh"]
    assert quarantined.outcome == "QUARANTINED"
    assert quarantined.detail["mismatch"] == "amount 2500 != stored 9999"
    assert quarantined.detail["stripe_payment_intent_id"] == payment.stripe_payment_intent_id


async def test_get_payment_answers_with_the_stored_payment_when_quarantined(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    stack = build_stack(uow_factory, gateway)
    payment = await _contradicted_payment(stack, localstripe)
    answered = await stack.payments.get(CALLER, payment.id)
    assert (answered.state, answered.amount) == (PaymentState.REQUIRES_CAPTURE, 9999)

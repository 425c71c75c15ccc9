"""Succeeded payments at localstripe with their rows stored, and counts of what reached Stripe."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.app.ports.processor import idempotency_key
from payment_service.domain.entities import Payment, Refund
from payment_service.domain.ids import new_id
from payment_service.domain.processor import NewPaymentIntent
from payment_service.domain.states import PaymentState
from tests.support.localstripe import LocalStripe

VISA = "4242424242424242"


@dataclass(frozen=True)
class StoredPayment:
    id: str
    account_id: str
    stripe_id: str
    amount: int
    currency: str


async def succeeded_payment(
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    *,
    amount: int = 1000,
    currency: str = "usd",
    account_id: str | None = None,
    state: PaymentState = PaymentState.SUCCEEDED,
) -> StoredPayment:
    """A card PaymentIntent charged at localstripe and its payment row (in ``state``)."""
    payment_id = new_id("pay")
    account = account_id or f"acct_{payment_id[-8:]}"
    method = await localstripe.create_card_payment_method(VISA)
    intent = await gateway.create_payment_intent(
        NewPaymentIntent(
            payment_id=payment_id,
            amount=amount,
            currency=currency,
            payment_method=method,
            confirm=True,
        ),
        idempotency_key=idempotency_key(payment_id, "create"),
    )
    assert intent.state is PaymentState.SUCCEEDED
    payment = Payment(
        id=payment_id,
        account_id=account,
        customer_id=None,
        caller="svc-orders",
        request_id=f"req-{payment_id}",
        request_hash="0" * 64,
        amount=amount,
        currency=currency,
        state=state,
        amount_received=intent.amount_received if state is PaymentState.SUCCEEDED else 0,
        stripe_payment_intent_id=intent.stripe_id,
    )
    async with uow_factory() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return StoredPayment(payment_id, account, intent.stripe_id, amount, currency)


async def refunds_at_stripe(
    localstripe: LocalStripe, payment_intent: str
) -> list[dict[str, object]]:
    """Every Refund localstripe holds for the PaymentIntent's charge."""
    return await localstripe.list_objects("refunds", payment_intent=payment_intent)


async def stored_payment(uow_factory: SqlUnitOfWorkFactory, payment_id: str) -> Payment:
    async with uow_factory(read_only=True) as uow:
        payment = await uow.payments.get(payment_id)
    assert payment is not None
    return payment


async def stored_refund(uow_factory: SqlUnitOfWorkFactory, refund_id: str) -> Refund:
    async with uow_factory(read_only=True) as uow:
        refund = await uow.refunds.get(refund_id)
    assert refund is not None
    return refund

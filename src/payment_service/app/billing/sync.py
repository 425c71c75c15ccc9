"""Stripe's billing objects stored as ours, in one unit of work: the one path for
answers to our own calls, webhook events, reads and the reconciler alike.

Locks are always taken subscription first, then invoice, then payment, so an
invoice event and a subscription event applied at once cannot deadlock.
An invoice's PaymentIntent becomes a Payment of ours (caller ``stripe-billing``)
linked to the invoice: it is listed with the account's payments and refunded
by RefundService under the same rules as any payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payment_service.app.billing.rules import (
    BILLING_CALLER,
    invoice_cache_key,
    subscription_cache_key,
)
from payment_service.app.payments.rules import cache_key as payment_cache_key
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.billing import RemoteInvoice, RemoteSubscription
from payment_service.domain.entities import Invoice, Payment, PaymentAction, Subscription
from payment_service.domain.ids import new_id
from payment_service.domain.processor import RemotePaymentIntent


@dataclass
class Synced:
    """What one sync wrote: the objects whose cache entries are now stale."""

    subscription: Subscription | None = None
    invoice: Invoice | None = None
    payment: Payment | None = None
    changed: bool = False

    @property
    def cache_keys(self) -> tuple[str, ...]:
        keys: list[str] = []
        if self.subscription is not None:
            keys.append(subscription_cache_key(self.subscription.id))
        if self.invoice is not None:
            keys.append(invoice_cache_key(self.invoice.id))
        if self.payment is not None:
            keys.append(payment_cache_key(self.payment.id))
        return tuple(keys)


async def price_ids(uow: UnitOfWork, remote: RemoteSubscription) -> dict[str, str]:
    """Stripe price id -> our price id, for the prices the subscription's items use."""
    found: dict[str, str] = {}
    for item in remote.items:
        price = await uow.prices.find_by_stripe_id(item.price)
        if price is not None:
            found[item.price] = price.id
    return found


async def apply_subscription(
    uow: UnitOfWork, subscription: Subscription, remote: RemoteSubscription, observed_at: datetime
) -> Synced:
    """Copy Stripe's subscription (and its latest invoice, when it came along) onto our row.

    The caller holds the subscription's row lock and writes nothing else for it.
    """
    changed = subscription.apply_remote(remote, observed_at, await price_ids(uow, remote))
    synced = Synced(subscription=subscription, changed=changed)
    if remote.latest_invoice is not None:
        invoice_sync = await store_invoice(
            uow, remote.latest_invoice, observed_at, subscription=subscription
        )
        synced.invoice, synced.payment = invoice_sync.invoice, invoice_sync.payment
        synced.changed = synced.changed or invoice_sync.changed
    await uow.subscriptions.update(subscription)
    return synced


async def store_invoice(
    uow: UnitOfWork,
    remote: RemoteInvoice,
    observed_at: datetime,
    *,
    subscription: Subscription | None = None,
) -> Synced:
    """Insert or update the invoice and its payment; nothing when the customer is not ours.

    ``subscription`` is given (locked, and written by the caller) when the caller holds
    it; otherwise the invoice's subscription is locked and written here.
    """
    own_subscription = subscription is None
    if subscription is None and remote.subscription:
        subscription = await uow.subscriptions.find_by_stripe_id(
            remote.subscription, for_update=True
        )
    invoice = await uow.invoices.find_by_stripe_id(remote.stripe_id, for_update=True)
    if invoice is None:
        invoice = await _new_invoice(uow, remote, subscription)
        if invoice is None:
            return Synced()
        invoice.apply_remote(remote, observed_at)
        await uow.invoices.add(invoice)
        changed = True
    else:
        if invoice.subscription_id is None and subscription is not None:
            invoice.subscription_id = subscription.id
        changed = invoice.apply_remote(remote, observed_at)
    payment = None
    if remote.payment_intent is not None:
        payment = await _store_invoice_payment(uow, invoice, remote.payment_intent, observed_at)
        invoice.payment_id = payment.id
    elif invoice.payment_id is not None:
        payment = await uow.payments.get(invoice.payment_id)
    await uow.invoices.update(invoice)
    synced = Synced(invoice=invoice, payment=payment, changed=changed)
    if subscription is not None and _is_latest(subscription, invoice):
        subscription.latest_invoice_id = invoice.id
        subscription.stripe_latest_invoice_id = invoice.stripe_invoice_id
        subscription.pending_action = PaymentAction.for_invoice(invoice, payment)
        if own_subscription:
            await uow.subscriptions.update(subscription)
            synced.subscription = subscription
    return synced


def _is_latest(subscription: Subscription, invoice: Invoice) -> bool:
    latest = subscription.stripe_latest_invoice_id
    return latest is None or latest == invoice.stripe_invoice_id


async def _new_invoice(
    uow: UnitOfWork, remote: RemoteInvoice, subscription: Subscription | None
) -> Invoice | None:
    customer = await uow.customers.find_by_stripe_id(remote.customer)
    if customer is None:
        return None
    return Invoice(
        id=new_id("inv"),
        account_id=customer.account_id,
        customer_id=customer.id,
        stripe_invoice_id=remote.stripe_id,
        currency=remote.currency.lower(),
        subscription_id=subscription.id if subscription else None,
        stripe_subscription_id=remote.subscription,
    )


async def _store_invoice_payment(
    uow: UnitOfWork, invoice: Invoice, intent: RemotePaymentIntent, observed_at: datetime
) -> Payment:
    payment = await uow.payments.find_by_stripe_id(intent.stripe_id, for_update=True)
    if payment is not None:
        payment.invoice_id = payment.invoice_id or invoice.id
        payment.apply_intent(intent, observed_at)
        await uow.payments.update(payment)
        return payment
    payment = Payment(
        id=new_id("pay"),
        account_id=invoice.account_id,
        customer_id=invoice.customer_id,
        caller=BILLING_CALLER,
        request_id=f"{invoice.stripe_invoice_id}/{intent.stripe_id}",
        request_hash="",
        amount=intent.amount,
        currency=intent.currency.lower(),
        capture_method=intent.capture_method,
        stripe_customer_id=intent.customer,
        description=f"invoice {invoice.stripe_invoice_id}",
        invoice_id=invoice.id,
    )
    payment.apply_intent(intent, observed_at)
    await uow.payments.add(payment)
    return payment

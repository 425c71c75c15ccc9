"""Subscription, invoice, price and product events, applied order-safe.

A subscription moves only through SUBSCRIPTION_TRANSITIONS and never back to an
older observation, so a late ``customer.subscription.created`` (incomplete)
never undoes ACTIVE, and terminal states are never left. Invoices likewise
through INVOICE_TRANSITIONS. A subscription event that overtook our own commit
finds the row by the ``subscription_id`` in its metadata and links it; one for a
subscription this service did not make is ignored. Stripe reads a handler needs
(an invoice's PaymentIntent, a price's product name) run outside the event's
transaction (``common.stripe_reads``).
"""

from __future__ import annotations

import dataclasses

from payment_service.app.billing.prices import price_page_keys, rename_product, store_price
from payment_service.app.billing.sync import apply_subscription, store_invoice
from payment_service.app.common.stripe_reads import fetched
from payment_service.app.ports.billing import BillingMapping, BillingProcessor
from payment_service.app.ports.event_types import (
    INVOICE_EVENT_TYPES,
    PRICE_EVENT_TYPES,
    PRODUCT_EVENT_TYPES,
    SUBSCRIPTION_EVENT_TYPES,
)
from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.clock import observed_time
from payment_service.domain.entities import Subscription
from payment_service.domain.errors import NotFound
from payment_service.domain.processor import RemoteEvent

TRIAL_WILL_END = "customer.subscription.trial_will_end"


def billing_event_handlers(
    mapping: BillingMapping, billing: BillingProcessor, processor: PaymentProcessor
) -> dict[str, EventHandler]:
    async def subscription_changed(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        remote = mapping.to_subscription(event.data_object)
        subscription = await _find_subscription(uow, remote.stripe_id, remote.subscription_id)
        if subscription is None:
            return EventOutcome.ignored(f"subscription {remote.stripe_id} was not made here")
        observed = observed_time(event.created)
        if event.type == TRIAL_WILL_END:
            subscription.trial_will_end_notice_at = observed
        synced = await apply_subscription(uow, subscription, remote, observed)
        if not synced.changed and event.type != TRIAL_WILL_END:
            return EventOutcome.ignored(
                f"{event.type} for {subscription.id}: stale or not allowed from "
                f"{subscription.state.value}"
            )
        return EventOutcome.applied(*synced.cache_keys)

    async def invoice_changed(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        remote = mapping.to_invoice(event.data_object)
        if await uow.customers.find_by_stripe_id(remote.customer) is None:
            return EventOutcome.ignored(f"invoice {remote.stripe_id}: customer not known here")
        intent_id = remote.payment_intent_id
        if intent_id and remote.payment_intent is None:
            intent = await fetched(
                f"payment_intent:{intent_id}", lambda: processor.retrieve_payment_intent(intent_id)
            )
            remote = dataclasses.replace(remote, payment_intent=intent)
        synced = await store_invoice(uow, remote, observed_time(event.created))
        if synced.invoice is None:
            return EventOutcome.ignored(f"invoice {remote.stripe_id}: customer not known here")
        if not synced.changed:
            return EventOutcome.ignored(
                f"{event.type} for {synced.invoice.id}: stale or not allowed from "
                f"{synced.invoice.state.value}"
            )
        return EventOutcome.applied(*synced.cache_keys)

    return {
        **dict.fromkeys(SUBSCRIPTION_EVENT_TYPES, subscription_changed),
        **dict.fromkeys(INVOICE_EVENT_TYPES, invoice_changed),
        **_catalogue_handlers(mapping, billing),
    }


def _catalogue_handlers(
    mapping: BillingMapping, billing: BillingProcessor
) -> dict[str, EventHandler]:
    """Price and product events keep the price mirror (ListPrices) current."""

    async def price_changed(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        remote = mapping.to_price(event.data_object)
        if remote.product_name is None:
            try:
                remote = await fetched(
                    f"price:{remote.stripe_id}", lambda: billing.retrieve_price(remote.stripe_id)
                )
            except NotFound:
                return EventOutcome.ignored(f"price {remote.stripe_id} is gone at Stripe")
        if event.type == "price.deleted":
            remote = dataclasses.replace(remote, active=False)
        if not await store_price(uow, remote, observed_time(event.created)):
            return EventOutcome.ignored(f"price {remote.stripe_id}: unchanged, stale or one-time")
        return EventOutcome.applied(*price_page_keys())

    async def product_changed(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        product = mapping.to_product(event.data_object)
        if not await rename_product(uow, product.stripe_id, product.name):
            return EventOutcome.ignored(f"product {product.stripe_id}: no price to rename")
        return EventOutcome.applied(*price_page_keys())

    return {
        **dict.fromkeys(PRICE_EVENT_TYPES, price_changed),
        **dict.fromkeys(PRODUCT_EVENT_TYPES, product_changed),
    }


async def _find_subscription(
    uow: UnitOfWork, stripe_id: str, our_id: str | None
) -> Subscription | None:
    found = await uow.subscriptions.find_by_stripe_id(stripe_id, for_update=True)
    if found is None and our_id:
        found = await uow.subscriptions.get_for_update(our_id)
    return found

"""Billing events applied order-safe through the production registry, on SQLite and
PostgreSQL: Stripe's own example objects (current API shape) set to our ids, signed
and posted in the orders Stripe may deliver them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.adapters.stripe.billing_gateway import StripeBillingGateway
from payment_service.adapters.stripe.billing_mapping import CURRENT_API
from payment_service.app.ports.list_filters import InvoiceFilter
from payment_service.app.webhooks.policy import Delivery, RetryPolicy
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.services import Overrides, build_services
from payment_service.config import Settings
from payment_service.domain.entities import Customer, Price, Subscription
from payment_service.domain.states import InvoiceState, SubscriptionState, WebhookEventState
from tests.integration.db import builders
from tests.integration.webhooks.support import body_of, event, resource
from tests.support.localstripe import LocalStripe

T = 1_767_225_600  # 2026-01-01
SETTLED = {WebhookEventState.PROCESSED, WebhookEventState.IGNORED}


@dataclass
class Billing:
    webhooks: Webhooks
    uow_factory: SqlUnitOfWorkFactory
    customer: Customer
    price: Price
    subscription: Subscription

    async def deliver(self, evt: dict[str, Any]) -> Delivery:
        return await self.webhooks.receive(body_of(evt).decode())

    async def stored(self) -> Subscription:
        async with self.uow_factory(read_only=True) as uow:
            found = await uow.subscriptions.get(self.subscription.id)
        assert found is not None
        return found


@pytest_asyncio.fixture
async def billing(
    uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> AsyncIterator[Billing]:
    config = StripeGatewayConfig(api_key=localstripe.api_key, api_base=localstripe.base_url)
    gateway, billing_gateway = StripeGateway(config), StripeBillingGateway(config)
    services = build_services(
        Settings(stripe_api_key="sk_test_billing"),
        Overrides(
            uow_factory=uow_factory,
            processor=gateway,
            billing_processor=billing_gateway,
            billing_mapping=CURRENT_API,
            cache=MemoryCache(),
            retry_policy=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2),
        ),
    )
    customer = builders.customer()
    price = builders.price()
    subscription = builders.subscription(
        customer,
        price,
        state=SubscriptionState.INCOMPLETE,
        cancel_at_period_end=False,
        pause_behavior=None,
        pause_resumes_at=None,
        pending_action=None,
        remote_updated_at=None,
        lease_until=None,
    )
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.prices.add(price)
        await uow.subscriptions.add(subscription)
        await uow.commit()
    try:
        yield Billing(services.webhooks, uow_factory, customer, price, subscription)
    finally:
        await gateway.close()
        await billing_gateway.close()


def _subscription_object(billing: Billing, status: str, **fields: Any) -> dict[str, Any]:
    obj = resource("subscription")
    item = obj["items"]["data"][0]
    item["price"]["id"] = billing.price.stripe_price_id
    item["quantity"] = 2
    item["current_period_start"], item["current_period_end"] = T, T + 30 * 86400
    obj.update(
        id=billing.subscription.stripe_subscription_id,
        customer=billing.customer.stripe_customer_id,
        status=status,
        metadata={"subscription_id": billing.subscription.id},
        latest_invoice=None,
        pause_collection=None,
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        trial_start=None,
        trial_end=None,
    )
    obj["items"]["data"] = [item]
    obj.update(fields)
    return obj


async def test_a_late_created_incomplete_never_overwrites_active(billing: Billing) -> None:
    active = event(
        "customer.subscription.updated",
        _subscription_object(billing, "active"),
        created=T + 5,
        previous_attributes={"status": "incomplete"},
    )
    created = event(
        "customer.subscription.created", _subscription_object(billing, "incomplete"), created=T
    )
    assert await billing.deliver(active) is Delivery.APPLIED
    assert await billing.deliver(created) is Delivery.IGNORED
    stored = await billing.stored()
    assert stored.state is SubscriptionState.ACTIVE
    assert stored.item.quantity == 2


async def test_events_of_the_same_second_are_judged_by_the_transition_table(
    billing: Billing,
) -> None:
    updated = event(
        "customer.subscription.updated", _subscription_object(billing, "active"), created=T
    )
    created = event(
        "customer.subscription.created", _subscription_object(billing, "incomplete"), created=T
    )
    await billing.deliver(updated)
    await billing.deliver(created)
    assert (await billing.stored()).state is SubscriptionState.ACTIVE


async def test_canceled_is_never_left(billing: Billing) -> None:
    deleted = event(
        "customer.subscription.deleted",
        _subscription_object(billing, "canceled", canceled_at=T + 10),
        created=T + 10,
    )
    revived = event(
        "customer.subscription.updated", _subscription_object(billing, "active"), created=T + 20
    )
    await billing.deliver(deleted)
    assert await billing.deliver(revived) is Delivery.IGNORED
    assert (await billing.stored()).state is SubscriptionState.CANCELED


async def test_an_event_that_overtakes_our_commit_links_the_row_by_its_metadata(
    billing: Billing, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        row = await uow.subscriptions.get_for_update(billing.subscription.id)
        assert row is not None
        row.stripe_subscription_id = None  # our CreateSubscription has not stored Stripe's answer
        await uow.subscriptions.update(row)
        await uow.commit()
    obj = _subscription_object(billing, "active", id="sub_from_stripe_1")
    assert await billing.deliver(event("customer.subscription.created", obj)) is Delivery.APPLIED
    stored = await billing.stored()
    assert stored.stripe_subscription_id == "sub_from_stripe_1"
    assert stored.state is SubscriptionState.ACTIVE


async def test_a_subscription_not_made_here_is_ignored(billing: Billing) -> None:
    obj = _subscription_object(billing, "active", id="sub_elsewhere", metadata={})
    assert await billing.deliver(event("customer.subscription.created", obj)) is Delivery.IGNORED


def _invoice_object(billing: Billing, status: str) -> dict[str, Any]:
    obj = resource("invoice")
    obj.update(
        id="in_concurrent_1",
        customer=billing.customer.stripe_customer_id,
        status=status,
        payments={"object": "list", "data": [], "has_more": False},
    )
    obj["parent"] = {
        "type": "subscription_details",
        "subscription_details": {
            "subscription": billing.subscription.stripe_subscription_id,
            "metadata": {},
        },
        "quote_details": None,
    }
    return obj


async def test_concurrent_deliveries_for_a_new_invoice_make_one_row_and_no_error(
    billing: Billing, uow_factory: SqlUnitOfWorkFactory
) -> None:
    created = event("invoice.created", _invoice_object(billing, "draft"), created=T)
    finalized = event("invoice.finalized", _invoice_object(billing, "open"), created=T + 1)
    answers = await asyncio.gather(billing.deliver(created), billing.deliver(finalized))
    assert all(a in (Delivery.APPLIED, Delivery.IGNORED, Delivery.DEFERRED) for a in answers)
    for _ in range(50):  # a delivery that lost the insert race is retried by the retrier
        await billing.webhooks.retry_due()
        async with uow_factory(read_only=True) as uow:
            stored = await uow.webhook_events.list_events(page=builders.page(), states=())
        mine = [e for e in stored.items if e.stripe_event_id in (created["id"], finalized["id"])]
        if len(mine) == 2 and all(e.state in SETTLED for e in mine):
            break
        await asyncio.sleep(0.1)
    # The older one may come second and be judged stale (IGNORED); neither is left failing.
    assert len(mine) == 2
    assert {e.state for e in mine} <= SETTLED
    async with uow_factory(read_only=True) as uow:
        invoice = await uow.invoices.find_by_stripe_id("in_concurrent_1")
        page = await uow.invoices.list_invoices(
            InvoiceFilter(subscription_id=billing.subscription.id), page=builders.page()
        )
    assert invoice is not None
    assert invoice.state is InvoiceState.OPEN
    assert invoice.subscription_id == billing.subscription.id
    assert [i.stripe_invoice_id for i in page.items] == ["in_concurrent_1"]

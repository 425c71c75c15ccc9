"""The billing capability built from its parts (the composition root's billing corner)."""

from __future__ import annotations

from payment_service.app.billing.changes import SubscriptionCommands
from payment_service.app.billing.invoices import InvoiceCommands
from payment_service.app.billing.prices import PriceCatalog
from payment_service.app.billing.queries import BillingQueries
from payment_service.app.billing.repair import BillingRepair
from payment_service.app.billing.rules import BillingRules
from payment_service.app.billing.service import Billing
from payment_service.app.billing.store import BillingStore
from payment_service.app.billing.subscribe import CreateSubscriptions
from payment_service.app.common.refreshing import GetRefreshes
from payment_service.app.customers.accounts import Customers
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.failpoints import Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.config import Settings


def billing_rules(settings: Settings, stripe_lease_s: float) -> BillingRules:
    return BillingRules(
        refresh_after_s=settings.payment_refresh_after_s,
        cache_ttl_s=settings.cache_ttl_s,
        stripe_lease_s=stripe_lease_s,
        stuck_after_s=settings.reconcile_stuck_after_s,
    )


def build_billing(
    uow_factory: UnitOfWorkFactory,
    cache: Cache,
    processor: PaymentProcessor,
    billing: BillingProcessor,
    customers: Customers,
    rules: BillingRules,
    failpoints: Failpoints,
) -> Billing:
    store = BillingStore(uow_factory, cache, rules)
    prices = PriceCatalog(uow_factory, billing, cache, rules)
    subscribe = CreateSubscriptions(store, billing, processor, customers, prices, rules, failpoints)
    queries = BillingQueries(store, billing, GetRefreshes(rules.refresh_after_s))
    return Billing(
        prices=prices,
        subscribe=subscribe,
        commands=SubscriptionCommands(store, billing, prices, failpoints),
        invoices=InvoiceCommands(store, billing, failpoints),
        queries=queries,
        repair=BillingRepair(store, billing, processor, subscribe, queries, prices, rules),
    )

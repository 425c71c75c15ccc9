"""The reconciler's part of billing, and ``payment-service sync --account``.

- subscriptions a crash or an outage left unsent are sent (exactly one at Stripe);
- subscriptions Stripe moves on its own (incomplete, trialing, past due) and
  non-final invoices are re-read on a backoff schedule;
- the price catalogue is re-read now and then (events keep it current between);
- ``sync_account`` re-reads one account's subscriptions and invoices from Stripe
  and repairs the local rows, for webhooks that never arrived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from payment_service.app.billing.prices import PriceCatalog
from payment_service.app.billing.queries import BillingQueries
from payment_service.app.billing.rules import MOVING_STATES, OPEN_INVOICE_STATES, BillingRules
from payment_service.app.billing.store import BillingStore, audit_sync
from payment_service.app.billing.subscribe import CreateSubscriptions, unsent
from payment_service.app.billing.sync import apply_subscription, store_invoice
from payment_service.app.common.audit import REFRESH_ACTOR
from payment_service.app.common.repair import RepairTally
from payment_service.app.common.repair_pass import repair_each
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.reconcile import RepairReport, RepairTask
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.billing import RemoteInvoice
from payment_service.domain.clock import api_read_time, utcnow
from payment_service.domain.entities import Invoice, Subscription
from payment_service.domain.errors import NotFound
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import SubscriptionState

_FAILURE = "billing repair failed"
T = TypeVar("T", Subscription, Invoice)


@dataclass(frozen=True, slots=True)
class AccountSync:
    subscriptions: int
    invoices: int
    changed: int


@dataclass
class BillingRepair:
    store: BillingStore
    billing: BillingProcessor
    processor: PaymentProcessor
    subscribe: CreateSubscriptions
    queries: BillingQueries
    prices: PriceCatalog
    rules: BillingRules

    def tasks(self) -> tuple[RepairTask, ...]:
        return (
            self.finish_pending_subscriptions,
            self.refresh_subscriptions,
            self.refresh_invoices,
            self.sync_prices,
        )

    async def finish_pending_subscriptions(self) -> RepairReport:
        tally = RepairTally("finish_pending_subscriptions", utcnow())
        older_than = tally.now - timedelta(seconds=self.rules.pending_grace_s)
        async with self.store.uow_factory(read_only=True) as uow:
            never_sent = await uow.subscriptions.list_pending(
                older_than, limit=self.rules.batch_size
            )
            # Newest first; incomplete ones expire at Stripe within a day, so a page is enough.
            incomplete = await uow.subscriptions.list_in_states(
                {SubscriptionState.INCOMPLETE}, page=PageRequest(self.rules.batch_size)
            )
        candidates = {s.id: s for s in never_sent}
        for subscription in incomplete.items:
            if subscription.create_time < older_than:
                candidates.setdefault(subscription.id, subscription)
        due = [s for s in candidates.values() if await self.subscribe.needs_finishing(s)]
        await repair_each(
            tally,
            due,
            lambda s: self.subscribe.finish_pending(s.id),
            unsent,
            failure=_FAILURE,
            id_key="object_id",
        )
        return tally.report()

    async def refresh_subscriptions(self) -> RepairReport:
        async def stale(uow: UnitOfWork, older_than: datetime) -> list[Subscription]:
            return await uow.subscriptions.list_to_refresh(
                MOVING_STATES, older_than, limit=self.rules.batch_size
            )

        return await self._refresh(
            "refresh_subscriptions", stale, self.queries.refresh_subscription
        )

    async def refresh_invoices(self) -> RepairReport:
        async def stale(uow: UnitOfWork, older_than: datetime) -> list[Invoice]:
            return await uow.invoices.list_to_refresh(
                OPEN_INVOICE_STATES, older_than, limit=self.rules.batch_size
            )

        return await self._refresh("refresh_invoices", stale, self.queries.refresh_invoice)

    async def _refresh(
        self,
        task: str,
        stale: Callable[[UnitOfWork, datetime], Awaitable[list[T]]],
        refresh: Callable[[T], Awaitable[T]],
    ) -> RepairReport:
        """Re-read the rows not read from Stripe lately, each on its backoff schedule."""
        tally = RepairTally(task, utcnow())
        older_than = tally.now - timedelta(seconds=self.rules.stuck_after_s)
        async with self.store.uow_factory(read_only=True) as uow:
            rows = await stale(uow, older_than)
        due = [row for row in rows if self._due(row, tally.now)]
        await repair_each(
            tally, due, refresh, lambda row: False, failure=_FAILURE, id_key="object_id"
        )
        return tally.report()

    async def sync_prices(self) -> RepairReport:
        tally = RepairTally("sync_prices", utcnow())
        tally.repaired = await self.prices.sync_if_due()
        return tally.report()

    async def sync_account(self, account_id: str) -> AccountSync:
        """Re-read one account's subscriptions and invoices from Stripe; repair the rows."""
        async with self.store.uow_factory(read_only=True) as uow:
            customer = await uow.customers.get_by_account(account_id)
        if customer is None or customer.stripe_customer_id is None:
            raise NotFound("customer", account_id)
        await self.prices.sync()
        changed = 0
        remote_subscriptions = await self.billing.list_subscriptions(customer.stripe_customer_id)
        for remote in remote_subscriptions:
            async with self.store.uow_factory() as uow:
                subscription = await uow.subscriptions.find_by_stripe_id(
                    remote.stripe_id, for_update=True
                )
                if subscription is None and remote.subscription_id:
                    subscription = await uow.subscriptions.get_for_update(remote.subscription_id)
                if subscription is None:
                    continue  # not made by this service
                synced = await apply_subscription(uow, subscription, remote, api_read_time())
                await audit_sync(
                    uow, REFRESH_ACTOR, None, synced, ("subscription", subscription.id)
                )
                await uow.commit()
            await self.store.published(synced)
            changed += int(synced.changed)
        remote_invoices = await self.billing.list_invoices(customer=customer.stripe_customer_id)
        for invoice in remote_invoices:
            changed += await self._store_invoice(await self._with_payment(invoice))
        return AccountSync(len(remote_subscriptions), len(remote_invoices), changed)

    async def _with_payment(self, remote: RemoteInvoice) -> RemoteInvoice:
        if remote.payment_intent_id and remote.payment_intent is None:
            intent = await self.processor.retrieve_payment_intent(remote.payment_intent_id)
            return dataclasses.replace(remote, payment_intent=intent)
        return remote

    async def _store_invoice(self, remote: RemoteInvoice) -> int:
        async with self.store.uow_factory() as uow:
            synced = await store_invoice(uow, remote, api_read_time())
            if synced.invoice is not None:
                await audit_sync(uow, REFRESH_ACTOR, None, synced, ("invoice", synced.invoice.id))
            await uow.commit()
        await self.store.published(synced)
        return int(synced.changed)

    def _due(self, row: Subscription | Invoice, now: datetime) -> bool:
        return row.refresh_due(
            now, min_s=self.rules.stuck_after_s, max_s=self.rules.max_refresh_interval_s
        )

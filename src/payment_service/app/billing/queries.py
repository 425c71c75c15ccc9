"""GetSubscription, ListSubscriptions, ListDelinquentSubscriptions, GetInvoice, ListInvoices.

A subscription Stripe may be moving on its own (incomplete, trialing, past due)
and a non-final invoice are re-read from Stripe on Get once they have not been
read for ``refresh_after_s`` (once, however many concurrent Gets ask); a failed
read answers what is stored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from payment_service.app.billing.prices import our_price_ids
from payment_service.app.billing.rules import (
    DELINQUENT_STATES,
    MOVING_STATES,
)
from payment_service.app.billing.store import BillingStore
from payment_service.app.common.audit import REFRESH_ACTOR
from payment_service.app.common.refreshing import GetRefreshes, refreshed_or_stored
from payment_service.app.common.validation import Violations
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.list_filters import InvoiceFilter
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Invoice, Payment, PaymentAction, Subscription
from payment_service.domain.errors import PermissionDenied
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import InvoiceState, SubscriptionState


@dataclass(frozen=True, slots=True)
class InvoiceView:
    invoice: Invoice
    pending_action: PaymentAction | None
    # Stripe price id -> ours, for the lines' prices this service knows.
    price_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass
class BillingQueries:
    store: BillingStore
    billing: BillingProcessor
    refreshes: GetRefreshes

    async def subscription(self, caller: Caller, subscription_id: str) -> Subscription:
        _check_id(subscription_id, "subn")
        found = await self.store.subscription(caller, subscription_id)
        if not self._stale(found.state in MOVING_STATES, found.stripe_subscription_id, found):
            return found
        async with self.refreshes.one_at_a_time(found.id):
            return await refreshed_or_stored(found, self.refresh_subscription, "subscription")

    async def refresh_subscription(self, subscription: Subscription) -> Subscription:
        assert subscription.stripe_subscription_id is not None
        remote = await self.billing.retrieve_subscription(subscription.stripe_subscription_id)
        synced = await self.store.store_subscription(
            subscription.id, remote, actor=REFRESH_ACTOR, action=None
        )
        return synced.subscription or subscription

    async def list_subscriptions(
        self,
        caller: Caller,
        account_id: str,
        page: PageRequest,
        states: Collection[SubscriptionState] = (),
    ) -> Page[Subscription]:
        check = Violations()
        check.account_id(account_id)
        check.raise_if_any()
        caller.require_account(account_id)
        async with self.store.uow_factory(read_only=True) as uow:
            return await uow.subscriptions.list_for_account(account_id, page=page, states=states)

    async def list_delinquent(
        self, caller: Caller, page: PageRequest, states: Collection[SubscriptionState] = ()
    ) -> Page[Subscription]:
        """The dunning view across accounts: only for a token not restricted to one account."""
        if caller.account_id is not None:
            raise PermissionDenied(
                "the dunning view spans accounts: it needs a token not restricted to one",
                reason="ACCOUNT_RESTRICTED",
            )
        async with self.store.uow_factory(read_only=True) as uow:
            return await uow.subscriptions.list_in_states(
                frozenset(states) or DELINQUENT_STATES, page=page
            )

    async def invoice(self, caller: Caller, invoice_id: str) -> InvoiceView:
        _check_id(invoice_id, "inv")
        found = await self.store.invoice(caller, invoice_id)
        if self._stale(not found.is_final, found.stripe_invoice_id, found):
            async with self.refreshes.one_at_a_time(found.id):
                found = await refreshed_or_stored(found, self.refresh_invoice, "invoice")
        return (await self._views([found]))[0]

    async def refresh_invoice(self, invoice: Invoice) -> Invoice:
        remote = await self.billing.retrieve_invoice(invoice.stripe_invoice_id)
        synced = await self.store.store_invoice(remote, actor=REFRESH_ACTOR, action=None)
        return synced.invoice or invoice

    async def list_invoices(
        self,
        caller: Caller,
        page: PageRequest,
        *,
        account_id: str = "",
        subscription_id: str = "",
        states: Collection[InvoiceState] = (),
    ) -> Page[InvoiceView]:
        check = Violations()
        if not account_id and not subscription_id:
            check.add("account_id", "set account_id or subscription_id (or both)")
        if account_id:
            check.account_id(account_id)
        if subscription_id:
            check.object_id(subscription_id, "subn", "subscription_id")
        check.raise_if_any()
        if account_id:
            caller.require_account(account_id)
        if subscription_id:
            await self.store.subscription(caller, subscription_id)  # NOT_FOUND if not the caller's
        where = InvoiceFilter(
            account_id=account_id or None, subscription_id=subscription_id or None, states=states
        )
        async with self.store.uow_factory(read_only=True) as uow:
            found = await uow.invoices.list_invoices(where, page=page)
        return Page(await self._views(found.items), found.next_page_token)

    async def _views(self, invoices: list[Invoice]) -> list[InvoiceView]:
        """Each invoice with what its customer still has to do (open ones only)."""
        payments: dict[str, Payment | None] = {}
        stripe_prices = {line.stripe_price_id for i in invoices for line in i.lines}
        async with self.store.uow_factory(read_only=True) as uow:
            for invoice in invoices:
                if invoice.state is InvoiceState.OPEN and invoice.payment_id:
                    payments[invoice.id] = await uow.payments.get(invoice.payment_id)
            price_ids = await our_price_ids(uow, stripe_prices)
        return [
            InvoiceView(
                invoice, PaymentAction.for_invoice(invoice, payments.get(invoice.id)), price_ids
            )
            for invoice in invoices
        ]

    def _stale(self, moving: bool, stripe_id: str | None, row: Subscription | Invoice) -> bool:
        return moving and stripe_id is not None and self.refreshes.due(row)


def _check_id(value: str, prefix: str) -> None:
    check = Violations()
    check.object_id(value, prefix)
    check.raise_if_any()

"""The billing capability as the API sees it: one facade over its use cases."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from payment_service.app.billing.changes import ChangePreview, SubscriptionCommands
from payment_service.app.billing.invoices import InvoiceCommands
from payment_service.app.billing.prices import PriceCatalog
from payment_service.app.billing.queries import BillingQueries, InvoiceView
from payment_service.app.billing.repair import AccountSync, BillingRepair
from payment_service.app.billing.rules import CreateSubscription, Pause, PlanChange
from payment_service.app.billing.subscribe import CreateSubscriptions
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Price, Subscription
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import InvoiceState, SubscriptionState


@dataclass
class Billing:
    prices: PriceCatalog
    subscribe: CreateSubscriptions
    commands: SubscriptionCommands
    invoices: InvoiceCommands
    queries: BillingQueries
    repair: BillingRepair

    async def list_prices(self, page: PageRequest, *, include_inactive: bool) -> Page[Price]:
        return await self.prices.list_prices(page, include_inactive=include_inactive)

    async def create_subscription(
        self, caller: Caller, command: CreateSubscription
    ) -> Subscription:
        return await self.subscribe.create(caller, command)

    async def get_subscription(self, caller: Caller, subscription_id: str) -> Subscription:
        return await self.queries.subscription(caller, subscription_id)

    async def list_subscriptions(
        self,
        caller: Caller,
        account_id: str,
        page: PageRequest,
        states: Collection[SubscriptionState] = (),
    ) -> Page[Subscription]:
        return await self.queries.list_subscriptions(caller, account_id, page, states)

    async def list_delinquent(
        self, caller: Caller, page: PageRequest, states: Collection[SubscriptionState] = ()
    ) -> Page[Subscription]:
        return await self.queries.list_delinquent(caller, page, states)

    async def update_subscription(
        self, caller: Caller, request_id: str, change: PlanChange
    ) -> Subscription:
        return await self.commands.update(caller, request_id, change)

    async def preview_change(self, caller: Caller, change: PlanChange) -> ChangePreview:
        return await self.commands.preview(caller, change)

    async def cancel_subscription(
        self, caller: Caller, request_id: str, subscription_id: str, *, at_period_end: bool
    ) -> Subscription:
        return await self.commands.cancel(
            caller, request_id, subscription_id, at_period_end=at_period_end
        )

    async def pause_subscription(
        self, caller: Caller, request_id: str, pause: Pause
    ) -> Subscription:
        return await self.commands.pause(caller, request_id, pause)

    async def resume_subscription(
        self, caller: Caller, request_id: str, subscription_id: str
    ) -> Subscription:
        return await self.commands.resume(caller, request_id, subscription_id)

    async def get_invoice(self, caller: Caller, invoice_id: str) -> InvoiceView:
        return await self.queries.invoice(caller, invoice_id)

    async def list_invoices(
        self,
        caller: Caller,
        page: PageRequest,
        *,
        account_id: str = "",
        subscription_id: str = "",
        states: Collection[InvoiceState] = (),
    ) -> Page[InvoiceView]:
        return await self.queries.list_invoices(
            caller, page, account_id=account_id, subscription_id=subscription_id, states=states
        )

    async def pay_invoice(
        self, caller: Caller, request_id: str, invoice_id: str, payment_method: str = ""
    ) -> InvoiceView:
        invoice = await self.invoices.pay(caller, request_id, invoice_id, payment_method)
        return await self.queries.invoice(caller, invoice.id)

    async def void_invoice(self, caller: Caller, request_id: str, invoice_id: str) -> InvoiceView:
        invoice = await self.invoices.void(caller, request_id, invoice_id)
        return await self.queries.invoice(caller, invoice.id)

    async def sync_account(self, account_id: str) -> AccountSync:
        return await self.repair.sync_account(account_id)

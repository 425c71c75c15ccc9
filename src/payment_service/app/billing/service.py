"""The billing capability as the API sees it: one facade over its use cases."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.billing.changes import SubscriptionCommands
from payment_service.app.billing.invoices import InvoiceCommands
from payment_service.app.billing.prices import PriceCatalog
from payment_service.app.billing.queries import BillingQueries, InvoiceView
from payment_service.app.billing.repair import BillingRepair
from payment_service.app.billing.subscribe import CreateSubscriptions
from payment_service.domain.caller import Caller


@dataclass
class Billing:
    prices: PriceCatalog
    subscribe: CreateSubscriptions
    commands: SubscriptionCommands
    invoices: InvoiceCommands
    queries: BillingQueries
    repair: BillingRepair

    def __post_init__(self) -> None:
        # The use cases the API calls as they are; the two invoice commands below answer
        # with the invoice's view.
        self.list_prices = self.prices.list_prices
        self.create_subscription = self.subscribe.create
        self.get_subscription = self.queries.subscription
        self.list_subscriptions = self.queries.list_subscriptions
        self.list_delinquent = self.queries.list_delinquent
        self.update_subscription = self.commands.update
        self.preview_change = self.commands.preview
        self.cancel_subscription = self.commands.cancel
        self.pause_subscription = self.commands.pause
        self.resume_subscription = self.commands.resume
        self.get_invoice = self.queries.invoice
        self.list_invoices = self.queries.list_invoices
        self.sync_account = self.repair.sync_account

    async def pay_invoice(
        self, caller: Caller, request_id: str, invoice_id: str, payment_method: str = ""
    ) -> InvoiceView:
        invoice = await self.invoices.pay(caller, request_id, invoice_id, payment_method)
        return await self.queries.invoice(caller, invoice.id)

    async def void_invoice(self, caller: Caller, request_id: str, invoice_id: str) -> InvoiceView:
        invoice = await self.invoices.void(caller, request_id, invoice_id)
        return await self.queries.invoice(caller, invoice.id)

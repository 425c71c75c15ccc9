"""Billing e2e helpers: a stack whose sidecar gets localstripe's webhooks, prices made in
localstripe, subscribe calls and waits."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc.aio
from payments.v1 import invoice_service_pb2 as inv_pb
from payments.v1 import invoice_service_pb2_grpc, subscription_service_pb2_grpc
from payments.v1 import payment_service_pb2 as pay_pb
from payments.v1 import subscription_service_pb2 as pb

from tests.integration.webhooks.support import SECRET
from tests.support.localstripe import LocalStripe
from tests.support.stack import ErrorDetails, Stack, auth, error_details

VISA = "4242424242424242"
DECLINED = "4000000000000002"
# Attaches fine; every charge is declined (renewals that fail).
DECLINE_AT_CHARGE = "4000000000000341"
THREE_D_SECURE = "4000002760003184"
WEBHOOK_PATH = "/stripe/webhooks"
T = TypeVar("T")


@dataclass
class BillingStack:
    stack: Stack
    localstripe: LocalStripe
    subscriptions: subscription_service_pb2_grpc.SubscriptionServiceStub
    invoices: invoice_service_pb2_grpc.InvoiceServiceStub
    account_id: str

    def auth(self, account_id: str | None = None) -> tuple[tuple[str, str], ...]:
        return auth(account_id=account_id)

    async def price(self, amount: int = 1500, interval: str = "month", name: str = "") -> pb.Price:
        """A recurring price made in Stripe, as ListPrices shows it."""
        made = await self.localstripe.request(
            "POST",
            "/v1/prices",
            {
                "currency": "usd",
                "unit_amount": str(amount),
                "recurring[interval]": interval,
                "product_data[name]": name or f"Plan {secrets.token_hex(3)}",
            },
        )
        stripe_id = made["id"]

        async def listed() -> pb.Price | None:
            page = await self.subscriptions.ListPrices(
                pb.ListPricesRequest(page_size=200), metadata=self.auth(), timeout=20
            )
            return next((p for p in page.prices if p.stripe_price_id == stripe_id), None)

        return await wait_for(listed, what=f"price {stripe_id} in ListPrices")

    async def card(self, number: str = VISA, *, default: bool = True) -> str:
        """A card attached to the account (and made its default)."""
        pm = await self.localstripe.create_card_payment_method(number)
        await self.stack.payments.AttachPaymentMethod(
            pay_pb.AttachPaymentMethodRequest(
                request_id=request_id(),
                account_id=self.account_id,
                stripe_payment_method_id=pm,
                set_default=default,
            ),
            metadata=self.auth(),
            timeout=20,
        )
        return pm

    async def subscribe(self, price: pb.Price, **fields: Any) -> pb.Subscription:
        values: dict[str, Any] = {
            "request_id": request_id(),
            "account_id": self.account_id,
            "price_id": price.id,
        }
        values.update(fields)
        response = await self.subscriptions.CreateSubscription(
            pb.CreateSubscriptionRequest(**values), metadata=self.auth(), timeout=30
        )
        return response.subscription

    async def get(self, subscription_id: str) -> pb.Subscription:
        response = await self.subscriptions.GetSubscription(
            pb.GetSubscriptionRequest(id=subscription_id), metadata=self.auth(), timeout=20
        )
        return response.subscription

    async def wait_state(self, subscription_id: str, state: int) -> pb.Subscription:
        async def reached() -> pb.Subscription | None:
            found = await self.get(subscription_id)
            return found if found.state == state else None

        return await wait_for(reached, what=f"subscription {subscription_id} in state {state}")

    async def invoices_of(self, subscription_id: str) -> list[inv_pb.Invoice]:
        response = await self.invoices.ListInvoices(
            inv_pb.ListInvoicesRequest(subscription_id=subscription_id),
            metadata=self.auth(),
            timeout=20,
        )
        return list(response.invoices)

    async def open_invoice(self, subscription_id: str) -> inv_pb.Invoice:
        async def found() -> inv_pb.Invoice | None:
            invoices = await self.invoices_of(subscription_id)
            return next((i for i in invoices if i.state == inv_pb.INVOICE_STATE_OPEN), None)

        return await wait_for(found, what=f"an open invoice of {subscription_id}")

    async def advance(self, stripe_subscription_id: str) -> None:
        """The patch layer's clock: the subscription moves to its next period at Stripe."""
        await self.localstripe.request(
            "POST", f"/_test/subscriptions/{stripe_subscription_id}/advance"
        )


async def rejected(call: Awaitable[object]) -> ErrorDetails:
    """The error details of a call that must fail."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error_details(error)
    raise AssertionError("the call succeeded")


def request_id() -> str:
    return f"req-{uuid.uuid4()}"


def account() -> str:
    return f"acct_{uuid.uuid4().hex[:12]}"


async def register_webhooks(localstripe: LocalStripe, stack: Stack) -> str:
    webhook_id = f"billing-{secrets.token_hex(4)}"
    await localstripe.register_webhook(webhook_id, stack.http_url + WEBHOOK_PATH, SECRET)
    return webhook_id


async def unregister_webhooks(localstripe: LocalStripe, stack: Stack, webhook_id: str) -> None:
    await localstripe.register_webhook(
        webhook_id, stack.http_url + WEBHOOK_PATH, SECRET, events=["test.never"]
    )


async def wait_for(
    check: Callable[[], Awaitable[T | None]], within_s: float = 20.0, what: str = "condition"
) -> T:
    deadline = time.monotonic() + within_s
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)

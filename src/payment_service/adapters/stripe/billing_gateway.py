"""StripeBillingGateway: app.ports.billing.BillingProcessor over Stripe Billing.

Same connection and call path as StripeGateway (connection.py): built from
``StripeGatewayConfig`` or over the payments gateway's ``connection``. Every answer is
made current by the compat shape (compat.py) and read by billing_mapping.py.
Subscriptions and invoices come with the invoice's PaymentIntent fetched (state,
client secret, next action, decline), found through the invoice's ``payments``
(InvoicePayments, expanded on every invoice read).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import stripe
from stripe.params import (
    InvoiceCreatePreviewParams,
    InvoiceListParams,
    InvoicePayParams,
    PriceListParams,
    SubscriptionCreateParams,
    SubscriptionListParams,
    SubscriptionUpdateParams,
    SubscriptionUpdateParamsPauseCollection,
)

from payment_service.adapters.stripe import billing_mapping
from payment_service.adapters.stripe.billing_mapping import StripeBillingMapping
from payment_service.adapters.stripe.connection import StripeCalls
from payment_service.adapters.stripe.errors import CallContext
from payment_service.adapters.stripe.listing import PAGE_SIZE, Item, Params, each_listed
from payment_service.domain.billing import (
    NewSubscription,
    RemoteInvoice,
    RemoteInvoicePreview,
    RemotePause,
    RemotePrice,
    RemoteSubscription,
    SubscriptionChange,
)
from payment_service.domain.errors import InvalidArgument
from payment_service.domain.processor import RemotePaymentIntent

T = TypeVar("T")

# Our own subscription id, in the subscription's metadata.
SUBSCRIPTION_ID_KEY = "subscription_id"
# An invoice's PaymentIntents are in `payments`, included only when expanded.
INVOICE_EXPAND = ["payments"]
SUBSCRIPTION_EXPAND = ["latest_invoice", "latest_invoice.payments"]
PRICE_EXPAND = ["product"]
# /pay answers these when the PaymentIntent needs the customer (3-D Secure): not a
# decline; the invoice stays open with its PaymentIntent in requires_action.
REQUIRES_ACTION_CODES = frozenset({"invoice_payment_intent_requires_action"})


class StripeBillingGateway(StripeCalls):
    """Built from ``StripeGatewayConfig`` (its own connection, closed by ``close``) or over
    ``StripeGateway.connection`` (closed by that gateway)."""

    @property
    def mapping(self) -> StripeBillingMapping:
        """The BillingMapping for event payloads from this Stripe (localstripe's made current)."""
        return StripeBillingMapping(self._shape.billing_object)

    def _current(self, obj: stripe.StripeObject) -> Mapping[str, Any]:
        return self._shape.billing_object(obj.to_dict())

    def _expand(self, paths: list[str]) -> list[str]:
        return self._shape.billing_expand(paths)

    async def _pages(
        self,
        fetch: Callable[[Params], Awaitable[stripe.ListObject[Item]]],
        params: Params,
        read: Callable[[Mapping[str, Any]], T],
    ) -> list[T]:
        """Every item of a list, all pages, each made current and read by ``read``."""
        return [read(self._current(item)) async for item in each_listed(fetch, params)]

    # --- prices --------------------------------------------------------------------------------
    async def list_prices(self) -> Sequence[RemotePrice]:
        params: PriceListParams = {
            "type": "recurring",
            "expand": ["data.product"],
            "limit": PAGE_SIZE,
        }

        async def call() -> list[RemotePrice]:
            return await self._pages(
                self._client.v1.prices.list_async,
                params,
                billing_mapping.to_price,
            )

        return await self._call(CallContext("list_prices", "price"), call)

    async def retrieve_price(self, stripe_price_id: str) -> RemotePrice:
        async def call() -> RemotePrice:
            price = await self._client.v1.prices.retrieve_async(
                stripe_price_id, {"expand": PRICE_EXPAND}
            )
            return billing_mapping.to_price(self._current(price))

        return await self._call(CallContext("retrieve_price", "price", stripe_price_id), call)

    # --- reading with the PaymentIntent -----------------------------------------------------------
    async def _with_payment_intent(self, invoice: RemoteInvoice) -> RemoteInvoice:
        if invoice.payment_intent is not None or invoice.payment_intent_id is None:
            return invoice
        pi = await self._retrieve_payment_intent(invoice.payment_intent_id)
        return dataclasses.replace(invoice, payment_intent=pi)

    async def _invoice(self, call: Callable[[], Awaitable[stripe.Invoice]]) -> RemoteInvoice:
        invoice = billing_mapping.to_invoice(self._current(await call()))
        return await self._with_payment_intent(invoice)

    async def _subscription(
        self, ctx: CallContext, call: Callable[[], Awaitable[stripe.Subscription]]
    ) -> RemoteSubscription:
        async def read() -> RemoteSubscription:
            sub = billing_mapping.to_subscription(self._current(await call()))
            if sub.latest_invoice is None:
                return sub
            latest = await self._with_payment_intent(sub.latest_invoice)
            return dataclasses.replace(sub, latest_invoice=latest)

        return await self._call(ctx, read)

    # --- subscriptions -----------------------------------------------------------------------------
    async def create_subscription(
        self, new: NewSubscription, *, idempotency_key: str
    ) -> RemoteSubscription:
        params = subscription_params(new)
        params["expand"] = self._expand(SUBSCRIPTION_EXPAND)
        options = self._post(idempotency_key)
        return await self._subscription(
            CallContext("create_subscription", "subscription"),
            lambda: self._client.v1.subscriptions.create_async(params, options),
        )

    async def retrieve_subscription(self, stripe_subscription_id: str) -> RemoteSubscription:
        return await self._subscription(
            CallContext("retrieve_subscription", "subscription", stripe_subscription_id),
            lambda: self._client.v1.subscriptions.retrieve_async(
                stripe_subscription_id, {"expand": self._expand(SUBSCRIPTION_EXPAND)}
            ),
        )

    async def list_subscriptions(self, customer: str) -> Sequence[RemoteSubscription]:
        # `status=all`: canceled ones too (the default leaves them out).
        params: SubscriptionListParams = {"customer": customer, "status": "all", "limit": PAGE_SIZE}

        async def call() -> list[RemoteSubscription]:
            return await self._pages(
                self._client.v1.subscriptions.list_async,
                params,
                billing_mapping.to_subscription,
            )

        return await self._call(CallContext("list_subscriptions", "customer", customer), call)

    async def _write(
        self,
        operation: str,
        stripe_subscription_id: str,
        key: str,
        send: Callable[[str, Any, stripe.RequestOptions], Awaitable[stripe.Subscription]],
        params: Mapping[str, Any] | None = None,
    ) -> RemoteSubscription:
        """A POST (or DELETE) on the subscription, answered with its latest invoice."""
        shaped = {**(params or {}), "expand": self._expand(SUBSCRIPTION_EXPAND)}
        options = self._post(key)
        return await self._subscription(
            CallContext(operation, "subscription", stripe_subscription_id),
            lambda: send(stripe_subscription_id, shaped, options),
        )

    async def _update(
        self,
        operation: str,
        stripe_subscription_id: str,
        params: SubscriptionUpdateParams,
        key: str,
    ) -> RemoteSubscription:
        return await self._write(
            operation,
            stripe_subscription_id,
            key,
            self._client.v1.subscriptions.update_async,
            params,
        )

    async def update_subscription(
        self, stripe_subscription_id: str, change: SubscriptionChange, *, idempotency_key: str
    ) -> RemoteSubscription:
        item = change_item(change)
        params: SubscriptionUpdateParams = {
            "items": [item],  # type: ignore[list-item]
            "proration_behavior": change.proration_behavior.value,
        }
        if change.proration_date is not None:
            params["proration_date"] = change.proration_date
        return await self._update(
            "update_subscription", stripe_subscription_id, params, idempotency_key
        )

    async def preview_subscription_change(
        self, stripe_subscription_id: str, customer: str, change: SubscriptionChange
    ) -> RemoteInvoicePreview:
        """``Invoice.create_preview`` (the removed ``Invoice.upcoming``'s successor)."""
        details: dict[str, Any] = {
            "items": [change_item(change)],
            "proration_behavior": change.proration_behavior.value,
        }
        if change.proration_date is not None:
            details["proration_date"] = change.proration_date
        params: InvoiceCreatePreviewParams = {
            "customer": customer,
            "subscription": stripe_subscription_id,
            "subscription_details": details,  # type: ignore[typeddict-item]
        }

        async def call() -> RemoteInvoicePreview:
            preview = await self._client.v1.invoices.create_preview_async(params)
            return billing_mapping.to_invoice_preview(self._current(preview))

        return await self._call(
            CallContext("preview_subscription_change", "subscription", stripe_subscription_id),
            call,
        )

    async def cancel_subscription(
        self, stripe_subscription_id: str, *, idempotency_key: str
    ) -> RemoteSubscription:
        """``DELETE /v1/subscriptions/{id}``: canceled now."""
        return await self._write(
            "cancel_subscription",
            stripe_subscription_id,
            idempotency_key,
            self._client.v1.subscriptions.cancel_async,
        )

    async def set_cancel_at_period_end(
        self, stripe_subscription_id: str, cancel: bool, *, idempotency_key: str
    ) -> RemoteSubscription:
        return await self._update(
            "set_cancel_at_period_end",
            stripe_subscription_id,
            {"cancel_at_period_end": cancel},
            idempotency_key,
        )

    async def set_pause_collection(
        self, stripe_subscription_id: str, pause: RemotePause | None, *, idempotency_key: str
    ) -> RemoteSubscription:
        params: SubscriptionUpdateParams = {"pause_collection": ""}  # "": clears it
        if pause is not None:
            paused: SubscriptionUpdateParamsPauseCollection = {"behavior": pause.behavior.value}
            if pause.resumes_at is not None:
                paused["resumes_at"] = pause.resumes_at
            params["pause_collection"] = paused
        return await self._update(
            "set_pause_collection", stripe_subscription_id, params, idempotency_key
        )

    async def resume_subscription(
        self, stripe_subscription_id: str, *, idempotency_key: str
    ) -> RemoteSubscription:
        """``/resume`` of a ``paused`` subscription (not ``pause_collection``)."""
        resume = self._client.v1.subscriptions.resume_async
        return await self._write(
            "resume_subscription", stripe_subscription_id, idempotency_key, resume
        )

    # --- invoices ------------------------------------------------------------------------------------
    async def _read_invoice(self, stripe_invoice_id: str) -> RemoteInvoice:
        return await self._invoice(
            lambda: self._client.v1.invoices.retrieve_async(
                stripe_invoice_id, {"expand": self._expand(INVOICE_EXPAND)}
            )
        )

    async def retrieve_invoice(self, stripe_invoice_id: str) -> RemoteInvoice:
        return await self._call(
            CallContext("retrieve_invoice", "invoice", stripe_invoice_id),
            lambda: self._read_invoice(stripe_invoice_id),
        )

    async def list_invoices(
        self, *, customer: str | None = None, subscription: str | None = None
    ) -> Sequence[RemoteInvoice]:
        """Every invoice of the customer and/or subscription; PaymentIntents by id only."""
        if not customer and not subscription:
            raise InvalidArgument.field("customer", "a customer or a subscription is needed")
        params: InvoiceListParams = {
            "expand": [f"data.{p}" for p in INVOICE_EXPAND],
            "limit": PAGE_SIZE,
        }
        params["expand"] = self._expand(params["expand"])
        if customer:
            params["customer"] = customer
        if subscription:
            params["subscription"] = subscription

        async def call() -> list[RemoteInvoice]:
            return await self._pages(
                self._client.v1.invoices.list_async,
                params,
                billing_mapping.to_invoice,
            )

        return await self._call(
            CallContext("list_invoices", "invoice", subscription or customer or ""), call
        )

    async def pay_invoice(
        self, stripe_invoice_id: str, *, payment_method: str | None, idempotency_key: str
    ) -> RemoteInvoice:
        """A decline raises ProcessorCardDeclined with the invoice's PaymentIntent; a payment
        needing the customer answers the open invoice, its PaymentIntent requires_action."""
        params: InvoicePayParams = {"expand": self._expand(INVOICE_EXPAND)}
        if payment_method:
            params["payment_method"] = payment_method
        options = self._post(idempotency_key)

        async def call() -> RemoteInvoice:
            try:
                return await self._invoice(
                    lambda: self._client.v1.invoices.pay_async(stripe_invoice_id, params, options)
                )
            except stripe.StripeError as exc:
                if exc.code not in REQUIRES_ACTION_CODES:
                    raise
            return await self._read_invoice(stripe_invoice_id)

        async def declined(_exc: stripe.CardError) -> RemotePaymentIntent | None:
            return (await self._read_invoice(stripe_invoice_id)).payment_intent

        return await self._call(
            CallContext("pay_invoice", "invoice", stripe_invoice_id), call, declined=declined
        )

    async def void_invoice(self, stripe_invoice_id: str, *, idempotency_key: str) -> RemoteInvoice:
        options = self._post(idempotency_key)
        return await self._call(
            CallContext("void_invoice", "invoice", stripe_invoice_id),
            lambda: self._invoice(
                lambda: self._client.v1.invoices.void_invoice_async(
                    stripe_invoice_id, {"expand": self._expand(INVOICE_EXPAND)}, options
                )
            ),
        )


def change_item(change: SubscriptionChange) -> dict[str, Any]:
    """``items[0]``: the item by id, with its new price and/or quantity."""
    if change.price is None and change.quantity is None:
        raise InvalidArgument.field("price", "a new price or quantity is needed")
    if change.quantity is not None and change.quantity <= 0:
        raise InvalidArgument.field("quantity", "must be positive")
    item: dict[str, Any] = {"id": change.item}
    if change.price is not None:
        item["price"] = change.price
    if change.quantity is not None:
        item["quantity"] = change.quantity
    return item


def subscription_params(new: NewSubscription) -> SubscriptionCreateParams:
    """``POST /v1/subscriptions``: one item, ``default_incomplete``, our id in metadata."""
    if new.quantity <= 0:
        raise InvalidArgument.field("quantity", "must be positive")
    if new.trial_period_days is not None and new.trial_end is not None:
        raise InvalidArgument.field("trial_end", "cannot be combined with trial_period_days")
    params: SubscriptionCreateParams = {
        "customer": new.customer,
        "items": [{"price": new.price, "quantity": new.quantity}],
        # The first invoice's PaymentIntent is confirmed by the client (3-D Secure) or by
        # /pay; the subscription stays incomplete until then.
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {**dict(new.metadata), SUBSCRIPTION_ID_KEY: new.subscription_id},
    }
    if new.trial_period_days is not None:
        params["trial_period_days"] = new.trial_period_days
    if new.trial_end is not None:
        params["trial_end"] = new.trial_end
    if new.default_payment_method:
        params["default_payment_method"] = new.default_payment_method
    return params

"""Stripe Billing as the billing use cases see it: prices, subscriptions, invoices.

Every write takes the idempotency key the use case derives from its own row
(``ports.processor.idempotency_key``), so a retry after a crash never makes a
second subscription or a second charge. Errors are the processor's
(``ProcessorUnavailable``, ``CardDeclined``, ``ProcessorRejected``...), as for payments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from payment_service.domain.billing import (
    NewSubscription,
    RemoteInvoice,
    RemoteInvoicePreview,
    RemotePause,
    RemotePrice,
    RemoteProduct,
    RemoteSubscription,
    SubscriptionChange,
)


class BillingProcessor(Protocol):
    async def list_prices(self) -> Sequence[RemotePrice]:
        """Every recurring price, active or not, with its product's name."""
        ...

    async def retrieve_price(self, stripe_price_id: str) -> RemotePrice:
        """The price with its product's name; NotFound when Stripe has no such price."""
        ...

    async def create_subscription(
        self, new: NewSubscription, *, idempotency_key: str
    ) -> RemoteSubscription:
        """Create with ``payment_behavior=default_incomplete``; the answer carries the latest
        invoice with its PaymentIntent (state, client secret, next action, decline)."""
        ...

    async def retrieve_subscription(self, stripe_subscription_id: str) -> RemoteSubscription:
        """The subscription with its latest invoice (and that invoice's PaymentIntent)."""
        ...

    async def list_subscriptions(self, customer: str) -> Sequence[RemoteSubscription]:
        """Every subscription of a Stripe customer, canceled ones included."""
        ...

    async def update_subscription(
        self, stripe_subscription_id: str, change: SubscriptionChange, *, idempotency_key: str
    ) -> RemoteSubscription: ...

    async def preview_subscription_change(
        self, stripe_subscription_id: str, customer: str, change: SubscriptionChange
    ) -> RemoteInvoicePreview:
        """What the change would invoice (``Invoice.create_preview``); changes nothing."""
        ...

    async def cancel_subscription(
        self, stripe_subscription_id: str, *, idempotency_key: str
    ) -> RemoteSubscription:
        """Cancel now."""
        ...

    async def set_cancel_at_period_end(
        self, stripe_subscription_id: str, cancel: bool, *, idempotency_key: str
    ) -> RemoteSubscription: ...

    async def set_pause_collection(
        self, stripe_subscription_id: str, pause: RemotePause | None, *, idempotency_key: str
    ) -> RemoteSubscription:
        """Pause collection (``pause_collection``), or clear it with None."""
        ...

    async def resume_subscription(
        self, stripe_subscription_id: str, *, idempotency_key: str
    ) -> RemoteSubscription:
        """Resume a subscription whose status is ``paused`` (``/resume``)."""
        ...

    async def retrieve_invoice(self, stripe_invoice_id: str) -> RemoteInvoice:
        """The invoice with its PaymentIntent fetched when it has one."""
        ...

    async def list_invoices(
        self, *, customer: str | None = None, subscription: str | None = None
    ) -> Sequence[RemoteInvoice]: ...

    async def pay_invoice(
        self, stripe_invoice_id: str, *, payment_method: str | None, idempotency_key: str
    ) -> RemoteInvoice:
        """Attempt payment now. A decline raises CardDeclined; a payment needing 3-D Secure
        answers the open invoice with its PaymentIntent in ``requires_action``."""
        ...

    async def void_invoice(
        self, stripe_invoice_id: str, *, idempotency_key: str
    ) -> RemoteInvoice: ...


class BillingMapping(Protocol):
    """Stripe's billing JSON (an event's ``data_object``) -> snapshots."""

    def to_price(self, obj: Mapping[str, Any]) -> RemotePrice: ...

    def to_product(self, obj: Mapping[str, Any]) -> RemoteProduct: ...

    def to_subscription(self, obj: Mapping[str, Any]) -> RemoteSubscription: ...

    def to_invoice(self, obj: Mapping[str, Any]) -> RemoteInvoice: ...

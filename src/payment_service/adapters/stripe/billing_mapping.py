"""Stripe Billing's JSON (today's API, "basil" and later) -> domain/billing.py snapshots.

Only current shapes are read here: billing periods on each subscription item, an
invoice's subscription under ``parent.subscription_details``, its PaymentIntents
under ``payments`` (InvoicePayments, included when expanded), a line's price under
``pricing.price_details`` and its proration under ``parent.*_details``. Older shapes
(localstripe's) are turned into these by compat.py before they get here: the gateway
does so for every object it reads, and ``StripeBillingMapping`` for event payloads.

Stripe's status strings become our enums here, not in the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from payment_service.adapters.stripe.mapping import (
    StripeShapeError,
    _dict,
    _id,
    _int,
    _list_data,
    _lookup,
    _metadata,
    _ref,
    _str,
    to_payment_intent,
)
from payment_service.domain.billing import (
    PauseBehavior,
    RemoteInvoice,
    RemoteInvoiceLine,
    RemoteInvoicePreview,
    RemotePause,
    RemotePrice,
    RemoteProduct,
    RemoteSubscription,
    RemoteSubscriptionItem,
)
from payment_service.domain.processor import RemotePaymentIntent
from payment_service.domain.states import InvoiceState, PriceInterval, SubscriptionState

Obj = Mapping[str, Any]

_SUBSCRIPTION_STATES: dict[str, SubscriptionState] = {s.value: s for s in SubscriptionState}
_INVOICE_STATES: dict[str, InvoiceState] = {s.value: s for s in InvoiceState}
_INTERVALS: dict[str, PriceInterval] = {i.value: i for i in PriceInterval}
_PAUSE_BEHAVIORS: dict[str, PauseBehavior] = {b.value: b for b in PauseBehavior}
# Where a line's origin (``parent.type``) keeps its details, proration among them.
_LINE_DETAILS = ("subscription_item_details", "invoice_item_details")


# --- prices and products ---------------------------------------------------------------------
def to_product(obj: Obj) -> RemoteProduct:
    return RemoteProduct(
        stripe_id=_id(obj),
        name=str(obj.get("name") or ""),
        active=bool(obj.get("active", True)),
    )


def to_price(obj: Obj) -> RemotePrice:
    """A Price; ``product`` an id, or the Product when expanded (its name is kept)."""
    product = obj.get("product")
    recurring = _dict(obj.get("recurring"))
    interval = recurring.get("interval")
    return RemotePrice(
        stripe_id=_id(obj),
        product=_ref(product),
        product_name=_str(product.get("name")) if isinstance(product, Mapping) else None,
        unit_amount=_int(obj.get("unit_amount")),
        currency=str(obj.get("currency") or "").lower(),
        # A one-time price has no ``recurring``.
        interval=_lookup(_INTERVALS, interval, "price interval") if interval is not None else None,
        interval_count=_int(recurring.get("interval_count")) if recurring else None,
        active=bool(obj.get("active", True)),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
    )


# --- subscriptions -----------------------------------------------------------------------------
def to_subscription_item(obj: Obj) -> RemoteSubscriptionItem:
    price = _ref(obj.get("price"))
    if price is None:
        raise StripeShapeError(f"subscription item {obj.get('id')!r} without a price")
    quantity = _int(obj.get("quantity"))
    return RemoteSubscriptionItem(
        stripe_id=_id(obj),
        price=price,
        quantity=quantity if quantity is not None else 1,
        current_period_start=_int(obj.get("current_period_start")),
        current_period_end=_int(obj.get("current_period_end")),
    )


def to_pause(value: object) -> RemotePause | None:
    """``pause_collection``: null when collection is not paused."""
    pause = _dict(value)
    if not pause:
        return None
    return RemotePause(
        behavior=_lookup(_PAUSE_BEHAVIORS, pause.get("behavior"), "pause_collection.behavior"),
        resumes_at=_int(pause.get("resumes_at")),
    )


def to_subscription(obj: Obj) -> RemoteSubscription:
    """The subscription; ``latest_invoice`` mapped too when it came expanded."""
    latest = obj.get("latest_invoice")
    cancel_at, canceled_at, trial_start, trial_end = (
        _int(obj.get(key)) for key in ("cancel_at", "canceled_at", "trial_start", "trial_end")
    )
    return RemoteSubscription(
        stripe_id=_id(obj),
        customer=_ref(obj.get("customer")) or "",
        state=_lookup(_SUBSCRIPTION_STATES, obj.get("status"), "Subscription status"),
        items=tuple(to_subscription_item(item) for item in _list_data(obj.get("items"))),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        cancel_at=cancel_at,
        canceled_at=canceled_at,
        trial_start=trial_start,
        trial_end=trial_end,
        pause=to_pause(obj.get("pause_collection")),
        default_payment_method=_ref(obj.get("default_payment_method")),
        latest_invoice_id=_ref(latest),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
        latest_invoice=to_invoice(latest) if isinstance(latest, Mapping) else None,
    )


# --- invoices ------------------------------------------------------------------------------------
def _line_details(line: Obj) -> Obj:
    """The details of the line's origin: ``parent[parent.type]``, else whichever is there."""
    parent = _dict(line.get("parent"))
    kind = parent.get("type")
    if isinstance(kind, str) and isinstance(parent.get(kind), Mapping):
        return _dict(parent.get(kind))
    for key in _LINE_DETAILS:
        if isinstance(parent.get(key), Mapping):
            return _dict(parent.get(key))
    return {}


def to_invoice_line(obj: Obj) -> RemoteInvoiceLine:
    period = _dict(obj.get("period"))
    price_details = _dict(_dict(obj.get("pricing")).get("price_details"))
    return RemoteInvoiceLine(
        stripe_id=_id(obj),
        description=_str(obj.get("description")),
        amount=_int(obj.get("amount")) or 0,
        currency=str(obj.get("currency") or "").lower(),
        quantity=_int(obj.get("quantity")),
        price=_ref(price_details.get("price")),
        period_start=_int(period.get("start")),
        period_end=_int(period.get("end")),
        proration=bool(_line_details(obj).get("proration")),
    )


def _invoice_payment(obj: Obj) -> Obj | None:
    """The InvoicePayment whose PaymentIntent is the invoice's: the default one
    (``is_default``), else the newest; only payments made by PaymentIntent count."""
    payments = [
        p
        for p in _list_data(obj.get("payments"))
        if _dict(p.get("payment")).get("payment_intent") is not None
    ]
    if not payments:
        return None
    defaults = [p for p in payments if p.get("is_default") is True]
    return max(defaults or payments, key=lambda p: _int(p.get("created")) or 0)


def invoice_payment_intent_id(obj: Obj) -> str | None:
    payment = _invoice_payment(obj)
    return _ref(_dict(payment.get("payment")).get("payment_intent")) if payment else None


def _expanded_payment_intent(obj: Obj) -> RemotePaymentIntent | None:
    payment = _invoice_payment(obj)
    pi = _dict(payment.get("payment")).get("payment_intent") if payment else None
    return to_payment_intent(pi) if isinstance(pi, Mapping) else None


def to_invoice(obj: Obj) -> RemoteInvoice:
    subscription = _dict(_dict(obj.get("parent")).get("subscription_details")).get("subscription")
    amount_due = _int(obj.get("amount_due")) or 0
    amount_paid = _int(obj.get("amount_paid")) or 0
    remaining = _int(obj.get("amount_remaining"))
    period_start, period_end, due_date = (
        _int(obj.get(key)) for key in ("period_start", "period_end", "due_date")
    )
    return RemoteInvoice(
        stripe_id=_id(obj),
        customer=_ref(obj.get("customer")) or "",
        subscription=_ref(subscription),
        state=_lookup(_INVOICE_STATES, obj.get("status"), "Invoice status"),
        number=_str(obj.get("number")),
        currency=str(obj.get("currency") or "").lower(),
        amount_due=amount_due,
        amount_paid=amount_paid,
        amount_remaining=remaining if remaining is not None else max(0, amount_due - amount_paid),
        subtotal=_int(obj.get("subtotal")) or 0,
        total=_int(obj.get("total")) or 0,
        hosted_invoice_url=_str(obj.get("hosted_invoice_url")),
        invoice_pdf=_str(obj.get("invoice_pdf")),
        period_start=period_start,
        period_end=period_end,
        due_date=due_date,
        paid_at=_int(_dict(obj.get("status_transitions")).get("paid_at")),
        billing_reason=_str(obj.get("billing_reason")),
        attempt_count=_int(obj.get("attempt_count")) or 0,
        lines=tuple(to_invoice_line(line) for line in _list_data(obj.get("lines"))),
        payment_intent_id=invoice_payment_intent_id(obj),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
        payment_intent=_expanded_payment_intent(obj),
    )


def to_invoice_preview(obj: Obj) -> RemoteInvoicePreview:
    """``Invoice.create_preview``'s answer (an invoice without an id)."""
    return RemoteInvoicePreview(
        currency=str(obj.get("currency") or "").lower(),
        amount_due=_int(obj.get("amount_due")) or 0,
        subtotal=_int(obj.get("subtotal")) or 0,
        total=_int(obj.get("total")) or 0,
        lines=tuple(to_invoice_line(line) for line in _list_data(obj.get("lines"))),
        period_start=_int(obj.get("period_start")),
        period_end=_int(obj.get("period_end")),
    )


# --- the BillingMapping handed to the event handlers ------------------------------------------------
def _as_is(obj: Obj) -> Obj:
    return obj


class StripeBillingMapping:
    """``app.ports.billing.BillingMapping``: each object first made current by
    ``normalize`` (the gateway's compat shape: ``StripeBillingGateway.mapping``)."""

    def __init__(self, normalize: Callable[[Obj], Obj] = _as_is) -> None:
        self._normalize = normalize

    def to_price(self, obj: Obj) -> RemotePrice:
        return to_price(self._normalize(obj))

    def to_product(self, obj: Obj) -> RemoteProduct:
        return to_product(self._normalize(obj))

    def to_subscription(self, obj: Obj) -> RemoteSubscription:
        return to_subscription(self._normalize(obj))

    def to_invoice(self, obj: Obj) -> RemoteInvoice:
        return to_invoice(self._normalize(obj))


# Today's API as is.
CURRENT_API = StripeBillingMapping()

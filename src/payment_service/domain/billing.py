"""What Stripe Billing says about prices, subscriptions and invoices, and what we ask of it.

Immutable snapshots in Stripe's current API shape (since 2025 "basil": billing
periods on each subscription item, an invoice's subscription under ``parent``,
its payments as InvoicePayments). Amounts are minor units, times Unix seconds,
exactly as Stripe sends them. The Stripe adapter fills these; nothing here
knows Stripe's wire format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from payment_service.domain.processor import OwnId, RemotePaymentIntent
from payment_service.domain.states import InvoiceState, PriceInterval, SubscriptionState

Time = TypeVar("Time", int, datetime)  # Unix seconds from Stripe, datetimes in our rows
Time_co = TypeVar("Time_co", covariant=True)


class PauseBehavior(StrEnum):
    """Stripe's ``pause_collection.behavior``: what happens to invoices while paused."""

    VOID = "void"
    KEEP_AS_DRAFT = "keep_as_draft"
    MARK_UNCOLLECTIBLE = "mark_uncollectible"


class ProrationBehavior(StrEnum):
    CREATE_PRORATIONS = "create_prorations"
    ALWAYS_INVOICE = "always_invoice"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RemotePrice:
    stripe_id: str
    product: str | None
    product_name: str | None  # known when the product came expanded
    unit_amount: int | None
    currency: str
    interval: PriceInterval | None  # None for a one-time price
    interval_count: int | None
    active: bool
    metadata: Mapping[str, str]
    created: int


@dataclass(frozen=True, slots=True)
class RemoteProduct:
    stripe_id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class RemotePause:
    behavior: PauseBehavior
    resumes_at: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteSubscriptionItem:
    stripe_id: str
    price: str
    quantity: int
    current_period_start: int | None
    current_period_end: int | None


@dataclass(frozen=True, slots=True)
class RemoteInvoiceLine:
    stripe_id: str
    description: str | None
    amount: int
    currency: str
    quantity: int | None
    price: str | None
    period_start: int | None
    period_end: int | None
    proration: bool


@dataclass(frozen=True, slots=True)
class RemoteInvoice:
    stripe_id: str
    customer: str
    subscription: str | None
    state: InvoiceState
    number: str | None
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    subtotal: int
    total: int
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: int | None
    period_end: int | None
    due_date: int | None
    paid_at: int | None
    billing_reason: str | None
    attempt_count: int
    lines: tuple[RemoteInvoiceLine, ...]
    # The PaymentIntent of its (newest) InvoicePayment, id only or fetched in full.
    payment_intent_id: str | None
    metadata: Mapping[str, str]
    created: int
    payment_intent: RemotePaymentIntent | None = None


class _ItemPeriod(Protocol[Time_co]):
    @property
    def current_period_start(self) -> Time_co | None: ...
    @property
    def current_period_end(self) -> Time_co | None: ...


class ItemPeriods(Generic[Time]):
    """A subscription's current period, spanning its items' periods (Stripe keeps the
    billing period on each subscription item)."""

    __slots__ = ()
    items: Sequence[_ItemPeriod[Time]]

    @property
    def current_period_start(self) -> Time | None:
        starts = [i.current_period_start for i in self.items if i.current_period_start]
        return min(starts) if starts else None

    @property
    def current_period_end(self) -> Time | None:
        ends = [i.current_period_end for i in self.items if i.current_period_end]
        return max(ends) if ends else None


@dataclass(frozen=True, slots=True)
class RemoteSubscription(ItemPeriods[int]):
    stripe_id: str
    customer: str
    state: SubscriptionState
    items: tuple[RemoteSubscriptionItem, ...]
    cancel_at_period_end: bool
    cancel_at: int | None
    canceled_at: int | None
    trial_start: int | None
    trial_end: int | None
    pause: RemotePause | None
    default_payment_method: str | None
    latest_invoice_id: str | None
    metadata: Mapping[str, str]
    created: int
    # The latest invoice when it came expanded (with its PaymentIntent where fetched).
    latest_invoice: RemoteInvoice | None = None

    subscription_id = OwnId("subscription_id")


@dataclass(frozen=True, slots=True)
class RemoteInvoicePreview:
    """``Invoice.create_preview`` for a subscription change."""

    currency: str
    amount_due: int
    subtotal: int
    total: int
    lines: tuple[RemoteInvoiceLine, ...]
    period_start: int | None
    period_end: int | None


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """What a subscription is created with (``payment_behavior=default_incomplete``)."""

    subscription_id: str  # ours, in metadata["subscription_id"]
    customer: str
    price: str
    quantity: int
    trial_period_days: int | None = None
    trial_end: int | None = None
    default_payment_method: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """A price and/or quantity change of one item, charged as ``proration_behavior`` says."""

    item: str  # the Stripe subscription item id
    price: str | None
    quantity: int | None
    proration_behavior: ProrationBehavior
    proration_date: int | None = None

"""A subscription of an account to recurring prices; mirrors a Stripe Subscription.

Items are a list from day one (one price per subscription is a validation rule
of the use cases, not of the model); quantities are seats. What the caller
needs to finish a first payment or a renewal that wants 3-D Secure is kept as
``pending_action`` until Stripe says the invoice is paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.billing import (
    ItemPeriods,
    NewSubscription,
    PauseBehavior,
    RemoteSubscription,
)
from payment_service.domain.clock import maybe_from_unix, utcnow
from payment_service.domain.entities.invoice import Invoice
from payment_service.domain.entities.mirror import StripeMirror
from payment_service.domain.entities.payment import Payment
from payment_service.domain.states import InvoiceState, PaymentState, SubscriptionState

# A payment in one of these waits for the customer: authenticate, or give another card.
NEEDS_CUSTOMER = frozenset(
    {
        PaymentState.REQUIRES_ACTION,
        PaymentState.REQUIRES_PAYMENT_METHOD,
        PaymentState.REQUIRES_CONFIRMATION,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionItem:
    price_id: str
    stripe_price_id: str
    quantity: int
    stripe_item_id: str | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentAction:
    """What a client needs to finish an invoice payment (3-D Secure, a new card)."""

    invoice_id: str | None = None
    payment_id: str | None = None
    client_secret: str | None = None
    next_action_type: str | None = None
    next_action_url: str | None = None
    hosted_invoice_url: str | None = None
    error_code: str | None = None
    decline_code: str | None = None

    @classmethod
    def for_invoice(cls, invoice: Invoice, payment: Payment | None) -> PaymentAction | None:
        """What is left for the customer to do on an open invoice; None when nothing is."""
        if invoice.state is not InvoiceState.OPEN:
            return None
        if payment is not None and payment.state not in NEEDS_CUSTOMER:
            return None
        return cls(
            invoice_id=invoice.id,
            payment_id=payment.id if payment else None,
            client_secret=payment.client_secret if payment else None,
            next_action_type=payment.next_action_type if payment else None,
            next_action_url=payment.next_action_url if payment else None,
            hosted_invoice_url=invoice.hosted_invoice_url,
            error_code=payment.last_error_code if payment else None,
            decline_code=payment.last_error_decline_code if payment else None,
        )


@dataclass(slots=True, kw_only=True)
class Subscription(StripeMirror[SubscriptionState], ItemPeriods[datetime]):
    account_id: str
    customer_id: str
    caller: str
    request_id: str
    request_hash: str
    stripe_customer_id: str
    items: list[SubscriptionItem]
    state: SubscriptionState = SubscriptionState.INCOMPLETE
    stripe_subscription_id: str | None = None
    default_payment_method: str | None = None
    trial_period_days: int | None = None  # as requested, resent on a retried create
    cancel_at_period_end: bool = False
    cancel_at: datetime | None = None
    trial_start: datetime | None = None
    trial_end: datetime | None = None
    canceled_at: datetime | None = None
    pause_behavior: PauseBehavior | None = None
    pause_resumes_at: datetime | None = None
    trial_will_end_notice_at: datetime | None = None
    latest_invoice_id: str | None = None
    stripe_latest_invoice_id: str | None = None
    pending_action: PaymentAction | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    lease_until: datetime | None = None

    @property
    def item(self) -> SubscriptionItem:
        """The one item (a subscription has one price today)."""
        return self.items[0]

    def create_request(self) -> NewSubscription:
        """The Stripe subscription this row is created as (the same on every retry)."""
        return NewSubscription(
            subscription_id=self.id,
            customer=self.stripe_customer_id,
            price=self.item.stripe_price_id,
            quantity=self.item.quantity,
            trial_period_days=self.trial_period_days,
            trial_end=int(self.trial_end.timestamp()) if self.trial_end else None,
            default_payment_method=self.default_payment_method,
            metadata=self.metadata,
        )

    def apply_remote(
        self, remote: RemoteSubscription, observed_at: datetime, price_ids: dict[str, str]
    ) -> bool:
        """Copy Stripe's view; False when stale or refused. ``price_ids``: Stripe id -> ours.

        The Stripe id is always recorded, even from a stale observation, so the row
        never stays unlinked from its Stripe subscription.
        """
        linked = self.stripe_subscription_id is None
        self.stripe_subscription_id = self.stripe_subscription_id or remote.stripe_id
        if not self.apply_remote_state(remote.state, observed_at):
            return linked
        self.items = [
            SubscriptionItem(
                price_id=price_ids.get(item.price, item.price),
                stripe_price_id=item.price,
                quantity=item.quantity,
                stripe_item_id=item.stripe_id,
                current_period_start=maybe_from_unix(item.current_period_start),
                current_period_end=maybe_from_unix(item.current_period_end),
            )
            for item in remote.items
        ] or self.items
        self.cancel_at_period_end = remote.cancel_at_period_end
        self.cancel_at = maybe_from_unix(remote.cancel_at)
        self.canceled_at = maybe_from_unix(remote.canceled_at)
        self.trial_start = maybe_from_unix(remote.trial_start)
        self.trial_end = maybe_from_unix(remote.trial_end)
        self.pause_behavior = remote.pause.behavior if remote.pause else None
        self.pause_resumes_at = maybe_from_unix(remote.pause.resumes_at) if remote.pause else None
        self.default_payment_method = remote.default_payment_method or self.default_payment_method
        self.stripe_latest_invoice_id = remote.latest_invoice_id or self.stripe_latest_invoice_id
        self.synced_at = utcnow()
        return True

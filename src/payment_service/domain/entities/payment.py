"""A payment: our mirror of one Stripe PaymentIntent, and how Stripe's view is applied to it.

The state only moves through the transition table and never back to an older
observation; amounts that only grow (received, refunded) never shrink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.entities.mirror import IntentMirror, customer_mismatch, linked_id
from payment_service.domain.processor import NewPaymentIntent, RemotePaymentIntent
from payment_service.domain.states import (
    CaptureMethod,
    PaymentMethodUsage,
    PaymentRefundState,
    PaymentState,
)


@dataclass(slots=True, kw_only=True)
class Payment(IntentMirror[PaymentState]):
    account_id: str
    customer_id: str | None
    caller: str  # the token ``sub`` that created it
    request_id: str
    request_hash: str
    amount: int
    currency: str
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    state: PaymentState = PaymentState.PENDING
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    # Stripe's refunded total as last observed (less refunds of ours that failed since);
    # amount_refunded is never below it (domain/refund_rules.py).
    stripe_amount_refunded: int = 0
    payment_method: str | None = None  # Stripe pm_ id
    description: str | None = None
    receipt_email: str | None = None
    receipt_url: str | None = None
    stripe_payment_intent_id: str | None = None
    stripe_customer_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    invoice_id: str | None = None  # set when the PaymentIntent pays one of our invoices
    confirm_on_create: bool = False  # confirm at Stripe in the create call (repeated on recovery)
    lease_until: datetime | None = None  # a request owns the Stripe call for this row until then
    trace_parent: str | None = None  # W3C traceparent of the request that made it
    off_session: bool = False  # charged with the customer away (confirmed on create)
    setup_future_usage: PaymentMethodUsage | None = None  # save the card once it succeeds
    dispute_id: str | None = None  # the latest dispute (dsp_) the customer's bank opened
    # Stripe's word (the latest dispute's is_charge_refundable): no refund may be sent.
    refund_blocked_by_dispute: bool = False

    @property
    def disputed(self) -> bool:
        return self.dispute_id is not None

    @property
    def last_read(self) -> datetime:
        """When we last knew Stripe's view: every stored answer of Stripe updates the row."""
        return self.synced_at or self.update_time

    @property
    def refund_state(self) -> PaymentRefundState:
        if self.amount_refunded <= 0:
            return PaymentRefundState.NONE
        if self.amount_refunded >= self.amount_received:
            return PaymentRefundState.REFUNDED
        return PaymentRefundState.PARTIALLY_REFUNDED

    def intent_request(self) -> NewPaymentIntent:
        """The PaymentIntent this payment is created as (the same on every retry)."""
        return NewPaymentIntent(
            payment_id=self.id,
            amount=self.amount,
            currency=self.currency,
            customer=self.stripe_customer_id,
            payment_method=self.payment_method,
            capture_method=self.capture_method,
            confirm=self.confirm_on_create or self.off_session,
            off_session=self.off_session,
            setup_future_usage=self.setup_future_usage,
            description=self.description,
            receipt_email=self.receipt_email,
            metadata=self.metadata,
        )

    def apply_intent(self, intent: RemotePaymentIntent, observed_at: datetime) -> bool:
        """Copy Stripe's view onto the payment; False when the observation was stale or refused.

        The PaymentIntent id is always recorded, even from a stale observation, so
        a payment never stays unlinked from its PaymentIntent.
        """
        self.stripe_payment_intent_id, linked = linked_id(
            self.stripe_payment_intent_id, intent.stripe_id
        )
        if not self.apply_remote_state(intent.state, observed_at):
            return linked
        self.amount_capturable = intent.amount_capturable
        self.amount_received = max(self.amount_received, intent.amount_received)
        if intent.amount_refunded is not None:
            self.amount_refunded = max(self.amount_refunded, intent.amount_refunded)
        self.copy_client_step(intent)
        self.receipt_url = intent.receipt_url or self.receipt_url
        self.payment_method = intent.payment_method or self.payment_method
        self.stripe_customer_id = intent.customer or self.stripe_customer_id
        self.synced_at = utcnow()
        return True

    def mismatch_with(self, intent: RemotePaymentIntent) -> str | None:
        """How Stripe's object contradicts ours (amount, currency, customer, id), if it does."""
        if intent.amount != self.amount:
            return f"amount {intent.amount} != stored {self.amount}"
        if intent.currency.lower() != self.currency:
            return f"currency {intent.currency} != stored {self.currency}"
        if customer := customer_mismatch(self.stripe_customer_id, intent.customer):
            return customer
        if self.stripe_payment_intent_id and intent.stripe_id != self.stripe_payment_intent_id:
            return f"payment intent {intent.stripe_id} != stored {self.stripe_payment_intent_id}"
        return None

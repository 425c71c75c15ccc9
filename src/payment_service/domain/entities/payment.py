"""A payment: our mirror of one Stripe PaymentIntent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.errors import FailedPrecondition, InvalidArgument
from payment_service.domain.money import Money
from payment_service.domain.states import CaptureMethod, PaymentRefundState, PaymentState
from payment_service.domain.transitions import PAYMENT_TRANSITIONS


@dataclass(slots=True, kw_only=True)
class Payment:
    id: str
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
    # amount_refunded is never below it (app/refunds.py).
    stripe_amount_refunded: int = 0
    payment_method: str | None = None  # Stripe pm_ id
    description: str | None = None
    receipt_email: str | None = None
    receipt_url: str | None = None
    client_secret: str | None = None
    next_action_type: str | None = None
    next_action_url: str | None = None
    last_error_code: str | None = None
    last_error_decline_code: str | None = None
    last_error_message: str | None = None
    stripe_payment_intent_id: str | None = None
    stripe_customer_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    confirm_on_create: bool = False  # confirm at Stripe in the create call (repeated on recovery)
    lease_until: datetime | None = None  # a request owns the Stripe call for this row until then
    remote_updated_at: datetime | None = None  # time of the newest Stripe observation applied
    synced_at: datetime | None = None  # when we last read the PaymentIntent from Stripe
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)
    version: int = 0

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def is_final(self) -> bool:
        return PAYMENT_TRANSITIONS.is_terminal(self.state)

    @property
    def refund_state(self) -> PaymentRefundState:
        if self.amount_refunded <= 0:
            return PaymentRefundState.NONE
        if self.amount_refunded >= self.amount_received:
            return PaymentRefundState.REFUNDED
        return PaymentRefundState.PARTIALLY_REFUNDED

    @property
    def refundable_amount(self) -> int:
        """What is left to refund (before subtracting refunds still in flight)."""
        if self.state is not PaymentState.SUCCEEDED:
            return 0
        return max(self.amount_received - self.amount_refunded, 0)

    def move_to(self, target: PaymentState) -> None:
        """Move by our own decision; raise InvalidTransition when the table forbids it."""
        PAYMENT_TRANSITIONS.move(self, target)

    def apply_remote_state(self, target: PaymentState, observed_at: datetime) -> bool:
        """Apply a state seen at Stripe; False (and no change) when stale or not allowed."""
        return PAYMENT_TRANSITIONS.observe(self, target, observed_at)

    def record_refunded_total(self, amount_refunded: int) -> bool:
        """Take Stripe's cumulative refunded amount (it only grows); True if it changed."""
        if self.state is not PaymentState.SUCCEEDED:
            raise FailedPrecondition(
                f"payment {self.id} is {self.state.value}; only succeeded payments are refunded",
                metadata={"id": self.id, "state": self.state.value},
            )
        if amount_refunded < 0 or amount_refunded > self.amount_received:
            raise InvalidArgument.field("amount_refunded", "outside 0..amount_received")
        if amount_refunded <= self.amount_refunded:
            return False
        self.amount_refunded = amount_refunded
        self.update_time = utcnow()
        return True

    def add_refund(self, amount: int) -> None:
        """Count a succeeded refund of ``amount`` against this payment."""
        if amount <= 0:
            raise InvalidArgument.field("amount", "must be positive")
        if amount > self.refundable_amount:
            raise FailedPrecondition(
                f"refund of {amount} exceeds the {self.refundable_amount} refundable of {self.id}",
                reason="AMOUNT_EXCEEDS_REFUNDABLE",
                metadata={"id": self.id, "refundable": str(self.refundable_amount)},
            )
        self.record_refunded_total(self.amount_refunded + amount)

    def remove_refund(self, amount: int) -> None:
        """Undo a refund that Stripe later reported as failed."""
        if amount <= 0 or amount > self.amount_refunded:
            raise InvalidArgument.field("amount", "outside 1..amount_refunded")
        self.amount_refunded -= amount
        self.update_time = utcnow()

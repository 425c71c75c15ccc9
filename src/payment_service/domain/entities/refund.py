"""A refund of (part of) a succeeded payment; mirrors a Stripe Refund."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.money import Money
from payment_service.domain.states import RefundReason, RefundState
from payment_service.domain.transitions import REFUND_TRANSITIONS

# Refund states whose amount counts against the payment's refundable amount.
RESERVING_REFUND_STATES = frozenset(
    {RefundState.PENDING, RefundState.REQUIRES_ACTION, RefundState.SUCCEEDED}
)


@dataclass(slots=True, kw_only=True)
class Refund:
    id: str
    payment_id: str
    account_id: str
    caller: str
    request_id: str
    request_hash: str
    amount: int
    currency: str
    reason: RefundReason | None = None
    state: RefundState = RefundState.PENDING
    failure_reason: str | None = None
    stripe_refund_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    remote_updated_at: datetime | None = None
    lease_until: datetime | None = None  # a request owns the Stripe call for this row until then
    synced_at: datetime | None = None  # when we last read the refund from Stripe
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)
    version: int = 0

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def reserves_amount(self) -> bool:
        return self.state in RESERVING_REFUND_STATES

    def move_to(self, target: RefundState) -> None:
        """Move by our own decision; raise InvalidTransition when the table forbids it."""
        REFUND_TRANSITIONS.move(self, target)

    def apply_remote_state(self, target: RefundState, observed_at: datetime) -> bool:
        """Apply a state seen at Stripe; False (and no change) when stale or not allowed."""
        return REFUND_TRANSITIONS.observe(self, target, observed_at)

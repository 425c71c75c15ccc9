"""A refund of (part of) a succeeded payment; mirrors a Stripe Refund."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.entities.mirror import StripeMirror, first_mismatch, linked_id
from payment_service.domain.processor import RemoteRefund
from payment_service.domain.states import RefundReason, RefundState

FAILURE_REASON_MAX = 64  # refunds.failure_reason is VARCHAR(64)
# Refund states whose amount counts against the payment's refundable amount.
RESERVING_REFUND_STATES = frozenset(
    {RefundState.PENDING, RefundState.REQUIRES_ACTION, RefundState.SUCCEEDED}
)


@dataclass(slots=True, kw_only=True)
class Refund(StripeMirror[RefundState]):
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
    lease_until: datetime | None = None  # a request owns the Stripe call for this row until then

    @property
    def awaits_stripe(self) -> bool:
        """PENDING and not yet known at Stripe: a create call is due (or its outcome unknown)."""
        return self.state is RefundState.PENDING and self.stripe_refund_id is None

    def fail(self, reason: str) -> None:
        """Stripe refused to create the refund: nothing moved."""
        self.move_to(RefundState.FAILED)
        self.lease_until = None
        self.failure_reason = reason.lower()[:FAILURE_REASON_MAX]

    def apply_remote(self, remote: RemoteRefund, observed_at: datetime) -> bool:
        """Copy Stripe's view onto the refund; False when nothing changed.

        The Stripe id is always linked, even from a stale observation. The state only
        moves through REFUND_TRANSITIONS and never back to an older observation.
        """
        self.stripe_refund_id, linked = linked_id(self.stripe_refund_id, remote.stripe_id)
        if not self.apply_remote_state(remote.state, observed_at):
            return linked
        if remote.failure_reason:
            self.failure_reason = remote.failure_reason[:FAILURE_REASON_MAX]
        return True

    def mismatch_with(self, remote: RemoteRefund) -> str | None:
        """How Stripe's refund contradicts this row (linked id, amount, currency), if it does."""
        if self.stripe_refund_id not in (None, remote.stripe_id):
            return f"linked to {self.stripe_refund_id}, Stripe names {remote.stripe_id}"
        return first_mismatch(
            ("amount", remote.amount, self.amount), ("currency", remote.currency, self.currency)
        )

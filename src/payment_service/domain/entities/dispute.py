"""A dispute (chargeback or inquiry) on one of our payments; mirrors a Stripe Dispute.

Disputes are opened by the customer's bank: a row is made from Stripe's first word on it
(an event, or a read). The state moves only through DISPUTE_TRANSITIONS and never back to
an older observation; the funds flags only ever go from False to True.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import maybe_from_unix
from payment_service.domain.disputes import (
    OPEN_DISPUTE_STATES,
    RESPONDABLE,
    DisputeEvidence,
    RemoteDispute,
)
from payment_service.domain.entities.mirror import StripeMirror, first_mismatch
from payment_service.domain.ids import new_id
from payment_service.domain.states import DisputeState


@dataclass(slots=True, kw_only=True)
class Dispute(StripeMirror[DisputeState]):
    state: DisputeState
    payment_id: str
    account_id: str
    stripe_dispute_id: str
    stripe_charge_id: str
    amount: int
    currency: str
    reason: str
    evidence_due_by: datetime | None = None
    evidence_submitted: bool = False
    funds_withdrawn: bool = False
    funds_reinstated: bool = False
    payment_refundable: bool = True
    evidence: DisputeEvidence = field(default_factory=DisputeEvidence)

    @classmethod
    def from_remote(cls, remote: RemoteDispute, *, payment_id: str, account_id: str) -> Dispute:
        """A new row for a dispute Stripe told us about (its state applied afterwards)."""
        return cls(
            id=new_id("dsp"),
            state=remote.state,
            payment_id=payment_id,
            account_id=account_id,
            stripe_dispute_id=remote.stripe_id,
            stripe_charge_id=remote.charge,
            amount=remote.amount,
            currency=remote.currency,
            reason=remote.reason,
        )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_DISPUTE_STATES

    @property
    def takes_evidence(self) -> bool:
        return self.state in RESPONDABLE and not self.evidence_submitted

    def apply_remote(self, remote: RemoteDispute, observed_at: datetime) -> bool:
        """Copy Stripe's view; False when the observation was stale or not allowed."""
        moved = self.apply_remote_state(remote.state, observed_at)
        if not moved:
            return False
        self.amount = remote.amount
        self.reason = remote.reason
        self.evidence_due_by = maybe_from_unix(remote.evidence_due_by)
        self.evidence_submitted = self.evidence_submitted or remote.submission_count > 0
        self.funds_withdrawn = self.funds_withdrawn or remote.funds_withdrawn
        self.funds_reinstated = self.funds_reinstated or remote.funds_reinstated
        self.payment_refundable = remote.payment_refundable
        self.evidence = remote.evidence
        return True

    def mismatch_with(self, remote: RemoteDispute) -> str | None:
        """How Stripe's dispute contradicts this row (id, charge, currency), if it does."""
        return first_mismatch(
            ("dispute", remote.stripe_id, self.stripe_dispute_id),
            ("charge", remote.charge, self.stripe_charge_id),
            ("currency", remote.currency, self.currency),
        )

"""What Stripe says about a dispute (an immutable snapshot), and the evidence given for one.

The snapshot is an observation, like those of domain/processor.py: the use cases compare
it with their own row and move the row through DISPUTE_TRANSITIONS. Nothing here knows
Stripe's wire format (adapters/stripe/dispute_mapping.py does).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from payment_service.domain.states import DisputeState

# Stripe's dispute statuses where the merchant may still respond.
RESPONDABLE = frozenset({DisputeState.WARNING_NEEDS_RESPONSE, DisputeState.NEEDS_RESPONSE})
# Not decided yet: the reconciler re-reads these, the gauges count them.
OPEN_DISPUTE_STATES = frozenset(
    {
        DisputeState.WARNING_NEEDS_RESPONSE,
        DisputeState.WARNING_UNDER_REVIEW,
        DisputeState.NEEDS_RESPONSE,
        DisputeState.UNDER_REVIEW,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeEvidence:
    """Stripe's text evidence fields (files are not handled); None means not given."""

    access_activity_log: str | None = None
    billing_address: str | None = None
    cancellation_policy_disclosure: str | None = None
    cancellation_rebuttal: str | None = None
    customer_email_address: str | None = None
    customer_name: str | None = None
    customer_purchase_ip: str | None = None
    duplicate_charge_explanation: str | None = None
    duplicate_charge_id: str | None = None
    product_description: str | None = None
    refund_policy_disclosure: str | None = None
    refund_refusal_explanation: str | None = None
    service_date: str | None = None
    shipping_address: str | None = None
    shipping_carrier: str | None = None
    shipping_date: str | None = None
    shipping_tracking_number: str | None = None
    uncategorized_text: str | None = None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def given(self) -> dict[str, str]:
        """The fields that hold something, by name."""
        return {name: value for name in self.field_names() if (value := getattr(self, name))}

    def merged(self, update: DisputeEvidence) -> DisputeEvidence:
        """These fields, with every field ``update`` gives replaced (Stripe merges the same way)."""
        return dataclasses.replace(self, **update.given())


@dataclass(frozen=True, slots=True)
class RemoteDispute:
    stripe_id: str
    charge: str
    payment_intent: str | None
    amount: int
    currency: str
    reason: str
    state: DisputeState
    evidence_due_by: int | None  # Unix seconds
    submission_count: int
    payment_refundable: bool  # Stripe's is_charge_refundable
    funds_withdrawn: bool  # a balance transaction took the amount
    funds_reinstated: bool  # a balance transaction gave it back
    created: int
    evidence: DisputeEvidence = field(default_factory=DisputeEvidence)

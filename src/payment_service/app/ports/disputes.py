"""Disputes as the use cases see Stripe (implemented by adapters/stripe/dispute_gateway.py).

Errors are domain errors, as for the PaymentProcessor (app/ports/processor.py): NotFound,
FailedPrecondition (the dispute no longer takes evidence, or is closed), InvalidArgument,
ResourceExhausted, and Unavailable when it is not known whether Stripe did it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from payment_service.domain.disputes import DisputeEvidence, RemoteDispute


class DisputeProcessor(Protocol):
    async def retrieve_dispute(self, stripe_id: str) -> RemoteDispute: ...

    async def update_dispute(
        self, stripe_id: str, *, evidence: DisputeEvidence, submit: bool, idempotency_key: str
    ) -> RemoteDispute:
        """Add the given evidence fields (Stripe merges them); ``submit`` sends it to the bank."""
        ...

    async def close_dispute(self, stripe_id: str, *, idempotency_key: str) -> RemoteDispute:
        """Accept the dispute as lost."""
        ...


class DisputeMapping(Protocol):
    """Stripe's dispute JSON -> snapshot (adapters/stripe/dispute_mapping.py)."""

    def to_dispute(self, obj: Mapping[str, Any]) -> RemoteDispute: ...


class DisputeMetricsSink(Protocol):
    def observe(self, open_disputes: int, evidence_due_soon: int) -> None:
        """The gauges: disputes not decided yet, and those with evidence due soon."""
        ...

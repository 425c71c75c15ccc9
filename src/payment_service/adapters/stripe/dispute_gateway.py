"""StripeDisputeGateway: the DisputeProcessor over the shared Stripe connection
(connection.py's one call path: idempotency keys, deadlines, domain errors)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import stripe
from stripe.params import DisputeUpdateParams

from payment_service.adapters.stripe import dispute_mapping
from payment_service.adapters.stripe.connection import ObjectKind, StripeCalls
from payment_service.adapters.stripe.errors import CallContext
from payment_service.domain.disputes import DisputeEvidence, RemoteDispute

DISPUTE = ObjectKind("dispute", dispute_mapping.to_dispute)


class StripeDisputeGateway(StripeCalls):
    async def _dispute(
        self, operation: str, stripe_id: str, call: Callable[[], Awaitable[stripe.Dispute]]
    ) -> RemoteDispute:
        return await self._mapped(CallContext(operation, DISPUTE.name, stripe_id), call, DISPUTE.to)

    async def retrieve_dispute(self, stripe_id: str) -> RemoteDispute:
        return await self._retrieve(DISPUTE, self._client.v1.disputes.retrieve_async, stripe_id)

    async def update_dispute(
        self, stripe_id: str, *, evidence: DisputeEvidence, submit: bool, idempotency_key: str
    ) -> RemoteDispute:
        # Only the fields given: Stripe merges them into what it has (an empty string unsets).
        params: DisputeUpdateParams = {"evidence": evidence.given(), "submit": submit}  # type: ignore[typeddict-item]
        options = self._post(idempotency_key)
        return await self._dispute(
            "update_dispute",
            stripe_id,
            lambda: self._client.v1.disputes.update_async(stripe_id, params, options),
        )

    async def close_dispute(self, stripe_id: str, *, idempotency_key: str) -> RemoteDispute:
        options = self._post(idempotency_key)
        return await self._dispute(
            "close_dispute",
            stripe_id,
            lambda: self._client.v1.disputes.close_async(stripe_id, None, options),
        )

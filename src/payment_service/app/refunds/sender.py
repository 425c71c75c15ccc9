"""Getting a reserved refund created at Stripe exactly once, and storing Stripe's answer.

Only one caller at a time calls Stripe for a row: a lock per refund id in this
process and the Stripe-call lease on the row across replicas. Any attempt
after the first one (a retry with the same request_id, the reconciler) first
looks for a Stripe refund carrying our refund id in its metadata and adopts
it, and only creates one when there is none, with the first attempt's key.
"""

from __future__ import annotations

import logging

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.leases import StripeCallLease
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.payments.rules import cache_key
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import (
    REFUND_ID_KEY,
    NewRefund,
    PaymentProcessor,
    idempotency_key,
)
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.refunds.ledger import record_refund_change
from payment_service.domain.clock import observed_time, utcnow
from payment_service.domain.entities import Refund
from payment_service.domain.errors import (
    DomainError,
    NotFound,
    found,
    outcome_unknown,
)
from payment_service.domain.processor import RemoteRefund

log = logging.getLogger(__name__)


class RefundSender:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        cache: Cache,
        lease_s: float,
        failpoints: Failpoints = NO_FAILPOINTS,
    ) -> None:
        self._uow_factory = uow_factory
        self._processor = processor
        self._cache = cache
        self._failpoints = failpoints
        self._locks = KeyedLocks()
        self.lease: StripeCallLease[Refund] = StripeCallLease(
            uow_factory,
            lambda uow: uow.refunds,
            kind="refund",
            lease_s=lease_s,
            needs_call=lambda refund: refund.awaits_stripe,
            busy_reason="REFUND_IN_PROGRESS",
        )

    async def send(self, refund: Refund, *, first_attempt: bool) -> Refund:
        """Raises Unavailable/ResourceExhausted with the row left PENDING; a refusal by
        Stripe is stored (FAILED) and the row returned."""
        async with self._locks.hold(refund.id):
            refund = await self.lease.claim(refund.id)
            if not refund.awaits_stripe:
                return refund  # settled while we waited for the lock
            payment_intent = await self._payment_intent(refund)
            try:
                remote = (
                    None if first_attempt else await self._find_at_stripe(refund, payment_intent)
                )
                if remote is None:
                    remote = await self._processor.create_refund(
                        NewRefund(
                            refund_id=refund.id,
                            payment_intent=payment_intent,
                            amount=refund.amount,
                            reason=refund.reason,
                            metadata=refund.metadata,
                        ),
                        idempotency_key=idempotency_key(refund.id, "create"),
                    )
            except DomainError as error:
                if outcome_unknown(error):
                    error.metadata.setdefault("refund_id", refund.id)
                    await self.lease.release(refund.id)
                    raise
                return await self._store_rejection(refund, error)
            self._failpoints.hit("refunds.create.after_stripe")
            return await self.store_remote(refund, remote, None)

    async def _payment_intent(self, refund: Refund) -> str:
        async with self._uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(refund.payment_id)
        # A reserved refund implies a payment linked to its PaymentIntent.
        if payment is None or payment.stripe_payment_intent_id is None:
            raise NotFound("payment", refund.payment_id)
        return payment.stripe_payment_intent_id

    async def _find_at_stripe(self, refund: Refund, payment_intent: str) -> RemoteRefund | None:
        """A Stripe refund made by an earlier attempt for this row (crash or lost answer);
        the gateway lists every page of the PaymentIntent's refunds."""
        for remote in await self._processor.list_refunds(payment_intent):
            if remote.metadata.get(REFUND_ID_KEY) == refund.id:
                return remote
        return None

    async def store_remote(
        self, known: Refund, remote: RemoteRefund, observed_at_unix: int | None
    ) -> Refund:
        """Stripe's view of the refund, with the payment's totals brought along."""
        async with self._uow_factory() as uow:
            payment = await uow.payments.get_for_update(known.payment_id)  # payment, then refund
            refund = await uow.refunds.get_for_update(known.id)
            if payment is None or refund is None:
                raise NotFound("refund", known.id)
            before = refund.state
            changed = refund.apply_remote(remote, observed_time(observed_at_unix))
            if observed_at_unix is None:
                refund.synced_at = utcnow()  # read now: the reconciler's backoff counts from here
            if changed or refund.lease_until is not None or observed_at_unix is None:
                refund.lease_until = None
                await uow.refunds.update(refund)
            await record_refund_change(uow, payment, refund, before)
            await uow.audit.add(
                audit_entry(
                    refund.caller,
                    "refunds.stripe_answer",
                    ("refund", refund.id),
                    refund.state.value,
                    {"stripe_refund_id": remote.stripe_id},
                )
            )
            await uow.commit()
        await self._cache.delete(cache_key(payment.id))
        return refund

    async def _store_rejection(self, refund: Refund, error: DomainError) -> Refund:
        """Stripe refused to create the refund: nothing moved, the reserved amount is free again."""
        log.warning(
            "Stripe refused a refund",
            extra={"refund_id": refund.id, "reason": error.reason, "stripe_message": error.message},
        )
        async with self._uow_factory() as uow:
            stored = found(await uow.refunds.get_for_update(refund.id), "refund", refund.id)
            if stored.awaits_stripe:
                stored.fail(error.reason)
                await uow.refunds.update(stored)
                await uow.audit.add(
                    audit_entry(
                        stored.caller, "refunds.stripe_answer", ("refund", stored.id), error.reason
                    )
                )
                await uow.commit()
        return stored

"""Refunds made outside the service (the Stripe dashboard) brought in as rows of ours.

They show in ListRefunds and count against the refundable amount. When Stripe's
refunded total is more than our rows explain (seen through a PaymentIntent
read), CreateRefund first lists the payment's refunds at Stripe (no transaction
open) and imports the missing ones, or answers UNAVAILABLE.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from payment_service.app.payments.rules import cache_key
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.processor import REFUND_ID_KEY, PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.app.refunds.ledger import (
    record_refund_change,
    sync_refunded_total,
    unexplained_refunded,
)
from payment_service.app.refunds.rules import new_refund, outside_request
from payment_service.domain.caller import Caller
from payment_service.domain.clock import from_unix, observed_time, utcnow
from payment_service.domain.entities import Payment, Refund
from payment_service.domain.entities.refund import FAILURE_REASON_MAX
from payment_service.domain.errors import DomainError, ResourceExhausted, Unavailable
from payment_service.domain.processor import RemoteRefund
from payment_service.domain.states import PaymentState

log = logging.getLogger(__name__)


async def import_refund(
    uow: UnitOfWork, payment: Payment, remote: RemoteRefund, observed_at_unix: int | None
) -> Refund | str:
    """Store a refund made outside the service (the payment row is locked); the reason it
    does not fit the payment instead, when it does not."""
    if remote.currency != payment.currency or remote.amount <= 0:
        return (
            f"refund {remote.stripe_id} of {remote.amount} {remote.currency} "
            f"does not fit payment {payment.id} in {payment.currency}"
        )
    made = outside_request(remote.stripe_id)
    refund = dataclasses.replace(
        new_refund(payment, made, remote.amount, remote.reason, remote.metadata),
        state=remote.state,
        failure_reason=(remote.failure_reason or "")[:FAILURE_REASON_MAX] or None,
        stripe_refund_id=remote.stripe_id,
        remote_updated_at=from_unix(observed_at_unix) if observed_at_unix else None,
        synced_at=utcnow() if observed_at_unix is None else None,
        create_time=from_unix(remote.created) if remote.created else utcnow(),
    )
    await uow.refunds.add(refund)
    await sync_refunded_total(uow, payment)
    return refund


@dataclass
class RefundImporter:
    uow_factory: UnitOfWorkFactory
    processor: PaymentProcessor
    cache: Cache

    async def import_unexplained(self, caller: Caller, payment_id: str) -> None:
        """Import the refunds Stripe's total counts and our rows do not, before reserving.

        Raises Unavailable when Stripe cannot be asked: a refund must not be reserved
        against a total we cannot account for.
        """
        async with self.uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
            if (
                payment is None
                or not caller.may_access(payment.account_id)
                or payment.state is not PaymentState.SUCCEEDED
                or payment.stripe_payment_intent_id is None
            ):
                return  # the reservation answers
            missing = await unexplained_refunded(uow, payment)
        if missing <= 0:
            return
        log.info(
            "Stripe reports refunds we have not stored; importing them",
            extra={"payment_id": payment_id, "unexplained": missing},
        )
        try:
            remotes = await self.processor.list_refunds(payment.stripe_payment_intent_id)
        except DomainError as error:
            if isinstance(error, Unavailable | ResourceExhausted):
                error.metadata.setdefault("payment_id", payment_id)
            raise
        await self._store_listed(payment_id, remotes)

    async def _store_listed(self, payment_id: str, remotes: Sequence[RemoteRefund]) -> None:
        """Apply a fresh list of the payment's Stripe refunds: update ours, import the rest."""
        async with self.uow_factory() as uow:
            payment = await uow.payments.get_for_update(payment_id)
            if payment is None:
                return
            for remote in remotes:
                await self._store_one(uow, payment, remote)
            await sync_refunded_total(uow, payment)
            await uow.commit()
        await self.cache.delete(cache_key(payment_id))

    async def _store_one(self, uow: UnitOfWork, payment: Payment, remote: RemoteRefund) -> None:
        stored = await uow.refunds.find_by_stripe_id(remote.stripe_id)
        ours = remote.metadata.get(REFUND_ID_KEY)
        if stored is None and ours:
            stored = await uow.refunds.get(ours)
        if stored is None:
            if ours:
                return  # made for a row we cannot see: not ours to import
            imported = await import_refund(uow, payment, remote, None)
            if isinstance(imported, str):
                log.warning("Stripe refund not imported", extra={"detail": imported})
            return
        refund = await uow.refunds.get_for_update(stored.id)
        if refund is None or refund.payment_id != payment.id:
            return
        if refund.mismatch_with(remote) is not None:
            return
        before = refund.state
        if refund.apply_remote(remote, observed_time(None)):
            refund.synced_at = utcnow()
            await uow.refunds.update(refund)
            await record_refund_change(uow, payment, refund, before)

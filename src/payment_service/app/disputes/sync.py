"""Stripe's view of a dispute applied to our rows: the dispute (made on first sight) and
its payment (disputed, and whether Stripe still lets it be refunded).

The one place where a RemoteDispute is stored, for events, the reconciler's refresh and
the commands' answers alike. Locks: payment row first, then dispute row, as refunds do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payment_service.app.common.stripe_reads import fetched
from payment_service.app.payments.rules import cache_key
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.disputes import RemoteDispute
from payment_service.domain.entities import Dispute, Payment
from payment_service.domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class DisputeSync:
    """What applying one observation did; ``dispute`` is None when it is no dispute of ours."""

    dispute: Dispute | None
    changed: bool
    detail: str
    quarantined: bool = False

    @property
    def payment_cache_key(self) -> str | None:
        return cache_key(self.dispute.payment_id) if self.dispute and self.changed else None


async def payment_intent_of(processor: PaymentProcessor, remote: RemoteDispute) -> str | None:
    """The disputed PaymentIntent: named by the dispute, else by its charge (a Stripe read,
    outside any transaction); None when Stripe knows no such charge."""
    if remote.payment_intent is not None:
        return remote.payment_intent
    try:
        charge = await fetched(
            f"charge:{remote.charge}", lambda: processor.retrieve_charge(remote.charge)
        )
    except NotFound:
        return None
    return charge.payment_intent


async def apply_dispute(
    uow: UnitOfWork, remote: RemoteDispute, observed_at: datetime, payment_intent: str | None
) -> DisputeSync:
    known = await uow.disputes.find_by_stripe_id(remote.stripe_id)
    if known is None:
        return await _first_sight(uow, remote, observed_at, payment_intent)
    payment = await uow.payments.get_for_update(known.payment_id)
    dispute = await uow.disputes.get_for_update(known.id)
    if payment is None or dispute is None:
        raise NotFound("dispute", known.id)
    mismatch = dispute.mismatch_with(remote)
    if mismatch is not None:
        return DisputeSync(dispute, False, f"dispute {dispute.id}: {mismatch}", quarantined=True)
    before = dispute.state
    if not dispute.apply_remote(remote, observed_at):
        return DisputeSync(dispute, False, f"dispute {dispute.id} stays {before.value}: stale")
    await uow.disputes.update(dispute)
    await _mark_payment(uow, payment, dispute)
    return DisputeSync(
        dispute, True, f"dispute {dispute.id}: {before.value} -> {dispute.state.value}"
    )


async def _first_sight(
    uow: UnitOfWork, remote: RemoteDispute, observed_at: datetime, payment_intent: str | None
) -> DisputeSync:
    payment = (
        await uow.payments.find_by_stripe_id(payment_intent, for_update=True)
        if payment_intent
        else None
    )
    if payment is None:
        return DisputeSync(None, False, f"{remote.stripe_id} disputes no payment of ours")
    if remote.currency != payment.currency:
        detail = f"dispute {remote.stripe_id} in {remote.currency} of a {payment.currency} payment"
        return DisputeSync(None, False, detail, quarantined=True)
    dispute = Dispute.from_remote(remote, payment_id=payment.id, account_id=payment.account_id)
    dispute.apply_remote(remote, observed_at)
    await uow.disputes.add(dispute)
    await _mark_payment(uow, payment, dispute)
    return DisputeSync(dispute, True, f"dispute {dispute.id} opened on {payment.id}")


async def _mark_payment(uow: UnitOfWork, payment: Payment, dispute: Dispute) -> None:
    """The payment shows its latest dispute, and whether that one forbids refunds."""
    blocked = not dispute.payment_refundable
    if (payment.dispute_id, payment.refund_blocked_by_dispute) == (dispute.id, blocked):
        return
    payment.dispute_id = dispute.id
    payment.refund_blocked_by_dispute = blocked
    await uow.payments.update(payment)

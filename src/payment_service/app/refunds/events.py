"""Stripe's refund events applied to stored refunds and their payments.

- ``refund.created`` / ``refund.updated`` / ``refund.failed`` / ``charge.refund.updated``
  carry the Refund: it is matched by its Stripe id, else by our ``refund_id``
  metadata (a refund of ours whose answer we have not stored yet), else it was
  made outside the service (Stripe dashboard) and is imported, so it shows in
  ListRefunds and counts against the refundable amount.
- ``charge.refunded`` carries the Charge: its refunds (embedded, or listed at
  Stripe when our rows do not explain ``amount_refunded``) are applied the same way.

Order-safe: a refund's state only moves through REFUND_TRANSITIONS and never
back to an observation older than the event's ``created`` time. After every
change the payment's refunded amounts are recomputed (``ledger.record_refund_change``):
never below Stripe's observed total, and a refund that fails gives its amount
back. Locks: payment row first, then refund row, as in the use cases.

Stripe reads (the charge of a refund that names no PaymentIntent, the refunds of
a charge that does not embed them) go through ``common.stripe_reads.fetched``, so they
run with no transaction open. A charge Stripe does not know (404) refunds no
payment of ours: the event is IGNORED, not retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from payment_service.app.common.event_payload import reading
from payment_service.app.common.stripe_reads import fetched
from payment_service.app.payments.rules import cache_key
from payment_service.app.ports.event_types import CHARGE_REFUNDED_EVENT_TYPE, REFUND_EVENT_TYPES
from payment_service.app.ports.events import (
    EventHandler,
    EventOutcome,
    ObjectNotYetKnown,
    OutcomeKind,
    StripeMapping,
)
from payment_service.app.ports.processor import REFUND_ID_KEY, PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.refunds.imports import import_refund
from payment_service.app.refunds.ledger import record_refund_change, succeeded_total
from payment_service.domain.clock import observed_time
from payment_service.domain.entities import Payment, Refund
from payment_service.domain.errors import NotFound
from payment_service.domain.processor import RemoteCharge, RemoteEvent, RemoteRefund


def refund_event_handlers(
    *, mapping: StripeMapping, processor: PaymentProcessor
) -> Mapping[str, EventHandler]:
    """The handler map for the registry. ``processor`` is only asked when an event lacks
    what is needed (a refund naming only its charge, a charge without its refunds)."""
    events = _RefundEvents(mapping, processor)
    on_refund = reading(mapping.to_refund, "refund", events.on_refund)
    handlers: dict[str, EventHandler] = dict.fromkeys(REFUND_EVENT_TYPES, on_refund)
    handlers[CHARGE_REFUNDED_EVENT_TYPE] = reading(
        mapping.to_charge, "charge", events.on_charge_refunded
    )
    return handlers


@dataclass
class _RefundEvents:
    mapping: StripeMapping
    processor: PaymentProcessor

    async def on_refund(
        self, event: RemoteEvent, remote: RemoteRefund, uow: UnitOfWork
    ) -> EventOutcome:
        return await self._apply(uow, remote, event.created, None)

    async def on_charge_refunded(
        self, event: RemoteEvent, charge: RemoteCharge, uow: UnitOfWork
    ) -> EventOutcome:
        if charge.payment_intent is None:
            return EventOutcome.ignored("charge without a PaymentIntent")
        payment = await uow.payments.find_by_stripe_id(charge.payment_intent)
        if payment is None:
            return EventOutcome.ignored(f"{charge.payment_intent} is no payment of ours")
        observed: int | None = event.created
        remotes: Sequence[RemoteRefund] = charge.refunds or ()
        if charge.refunds is None:
            if await succeeded_total(uow, payment.id) >= charge.amount_refunded:
                return EventOutcome.ignored("every refund of the charge is stored")
            intent = charge.payment_intent
            remotes = await fetched(
                f"refunds:{intent}", lambda: self.processor.list_refunds(intent)
            )
            observed = None  # a fresh read, newer than the event
        outcomes = [await self._apply(uow, r, observed, charge.payment_intent) for r in remotes]
        return _combined(outcomes, cache_key(payment.id))

    async def _apply(
        self,
        uow: UnitOfWork,
        remote: RemoteRefund,
        observed_at_unix: int | None,
        payment_intent: str | None,
    ) -> EventOutcome:
        found = await self._stored(uow, remote)
        if found is None:
            if REFUND_ID_KEY in remote.metadata:  # ours, but the row is not visible yet
                raise ObjectNotYetKnown(f"refund {remote.metadata[REFUND_ID_KEY]}")
            payment = await self._payment_of(uow, remote, payment_intent)
            if payment is None:
                return EventOutcome.ignored(f"{remote.stripe_id} refunds no payment of ours")
            return await _import(uow, payment, remote, observed_at_unix)
        payment = await uow.payments.get_for_update(found.payment_id)
        refund = await uow.refunds.get_for_update(found.id)
        if payment is None or refund is None:
            raise ObjectNotYetKnown(f"refund {found.id}")
        mismatch = refund.mismatch_with(remote)
        if mismatch is not None:
            return EventOutcome.quarantined(f"refund {refund.id}: {mismatch}")
        before = refund.state
        if not refund.apply_remote(remote, observed_time(observed_at_unix)):
            return EventOutcome.ignored(f"refund {refund.id}: stale or not allowed")
        await uow.refunds.update(refund)
        await record_refund_change(uow, payment, refund, before)
        return EventOutcome.applied(cache_key(payment.id), detail=refund.state.value)

    async def _stored(self, uow: UnitOfWork, remote: RemoteRefund) -> Refund | None:
        refund = await uow.refunds.find_by_stripe_id(remote.stripe_id)
        if refund is not None:
            return refund
        ours = remote.metadata.get(REFUND_ID_KEY)
        return await uow.refunds.get(ours) if ours else None

    async def _payment_of(
        self, uow: UnitOfWork, remote: RemoteRefund, payment_intent: str | None
    ) -> Payment | None:
        intent = remote.payment_intent or payment_intent
        charge_id = remote.charge
        if intent is None and charge_id is not None:
            try:
                charge = await fetched(
                    f"charge:{charge_id}", lambda: self.processor.retrieve_charge(charge_id)
                )
            except NotFound:
                return None  # Stripe does not know the charge: no payment of ours
            intent = charge.payment_intent
        if intent is None:
            return None
        return await uow.payments.find_by_stripe_id(intent, for_update=True)


async def _import(
    uow: UnitOfWork, payment: Payment, remote: RemoteRefund, observed_at_unix: int | None
) -> EventOutcome:
    """Store a refund made outside the service (the payment row is locked)."""
    imported = await import_refund(uow, payment, remote, observed_at_unix)
    if isinstance(imported, str):
        return EventOutcome.quarantined(imported)
    return EventOutcome.applied(cache_key(payment.id), detail=f"imported {imported.id}")


def _combined(outcomes: Sequence[EventOutcome], payment_key: str) -> EventOutcome:
    quarantined = [o.detail for o in outcomes if o.kind is OutcomeKind.QUARANTINED]
    if quarantined:
        return EventOutcome.quarantined("; ".join(quarantined))
    if any(o.kind is OutcomeKind.APPLIED for o in outcomes):
        return EventOutcome.applied(payment_key, detail=f"{len(outcomes)} refunds")
    return EventOutcome.ignored("no refund changed")

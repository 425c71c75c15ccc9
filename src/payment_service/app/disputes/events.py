"""Stripe's charge.dispute.* events: the dispute carried in the payload applied through
``sync.apply_dispute`` (order-safe: the event's ``created`` is the observation time, so a
late ``charge.dispute.updated`` never reopens a won dispute).

A dispute of a charge that is no payment of ours is IGNORED; one whose payload cannot be
read, or that contradicts the stored dispute, is QUARANTINED.
"""

from __future__ import annotations

from functools import partial

from payment_service.app.common.event_payload import reading
from payment_service.app.disputes.sync import apply_dispute, payment_intent_of
from payment_service.app.ports.disputes import DisputeMapping
from payment_service.app.ports.event_types import DISPUTE_EVENT_TYPES
from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.clock import from_unix
from payment_service.domain.disputes import RemoteDispute
from payment_service.domain.processor import RemoteEvent


def dispute_event_handlers(
    mapping: DisputeMapping, processor: PaymentProcessor
) -> dict[str, EventHandler]:
    """``processor`` is asked only for a dispute that names no PaymentIntent (its charge)."""
    changed = reading(mapping.to_dispute, "dispute", partial(_dispute_changed, processor))
    return dict.fromkeys(DISPUTE_EVENT_TYPES, changed)


async def _dispute_changed(
    processor: PaymentProcessor, event: RemoteEvent, remote: RemoteDispute, uow: UnitOfWork
) -> EventOutcome:
    known = await uow.disputes.find_by_stripe_id(remote.stripe_id)
    intent = None if known is not None else await payment_intent_of(processor, remote)
    synced = await apply_dispute(uow, remote, from_unix(event.created), intent)
    if synced.quarantined:
        return EventOutcome.quarantined(synced.detail)
    if not synced.changed:
        return EventOutcome.ignored(synced.detail)
    key = synced.payment_cache_key
    return EventOutcome.applied(*([key] if key else []), detail=synced.detail)

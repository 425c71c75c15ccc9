"""PaymentIntent events, applied from the payload through the payment state machine.

The event's ``created`` time is the observation time, so a late or duplicate
event never moves a payment backwards; an event contradicting the stored
payment (amount, currency, customer) is quarantined, not applied.
"""

from __future__ import annotations

import logging

from payment_service.app.common.event_subject import locked_subject
from payment_service.app.payments.rules import cache_key
from payment_service.app.ports.event_types import PAYMENT_INTENT_EVENT_TYPES
from payment_service.app.ports.events import EventHandler, EventOutcome, StripeMapping
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.clock import from_unix
from payment_service.domain.processor import RemoteEvent

log = logging.getLogger(__name__)


def payment_event_handlers(mapping: StripeMapping) -> dict[str, EventHandler]:
    async def payment_intent_changed(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        intent = mapping.to_payment_intent(event.data_object)
        payment = await locked_subject(uow.payments, "payment", intent.stripe_id, intent.payment_id)
        if payment is None:
            return EventOutcome.ignored(f"{intent.stripe_id} was not created by this service")
        mismatch = payment.mismatch_with(intent)
        if mismatch is not None:
            log.warning(
                "payment event contradicts the stored payment",
                extra={"payment_id": payment.id, "stripe_event_id": event.stripe_id},
            )
            return EventOutcome.quarantined(f"payment {payment.id}: {mismatch}")
        before = payment.state.value
        if not payment.apply_intent(intent, from_unix(event.created)):
            return EventOutcome.ignored(
                f"payment {payment.id} stays {before}: {intent.state.value} is stale or not allowed"
            )
        await uow.payments.update(payment)
        after = payment.state.value
        moved = f"stays {after}" if before == after else f": {before} -> {after}"
        return EventOutcome.applied(cache_key(payment.id), detail=f"payment {payment.id} {moved}")

    return dict.fromkeys(PAYMENT_INTENT_EVENT_TYPES, payment_intent_changed)

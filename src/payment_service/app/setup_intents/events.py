"""SetupIntent events, applied from the payload through the SetupIntent state machine;
``setup_intent.succeeded`` also attaches the saved card to the account (its display
facts read from Stripe with no transaction open, ``common.stripe_reads.fetched``).

Order-safe: the event's ``created`` time is the observation time, so a late event never
moves a SetupIntent back. An event about a SetupIntent of ours whose row is not visible
yet (its create still answering) is retried later.
"""

from __future__ import annotations

from payment_service.app.common.event_payload import reading
from payment_service.app.common.event_subject import locked_subject
from payment_service.app.ports.event_types import SETUP_INTENT_EVENT_TYPES
from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.setup_intents import SetupIntentMapping
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.setup_intents.store import attach_method, saved_method
from payment_service.domain.clock import from_unix
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.setup_intents import RemoteSetupIntent


def setup_intent_event_handlers(
    mapping: SetupIntentMapping, processor: PaymentProcessor
) -> dict[str, EventHandler]:
    async def setup_intent_changed(
        event: RemoteEvent, remote: RemoteSetupIntent, uow: UnitOfWork
    ) -> EventOutcome:
        row = await locked_subject(
            uow.setup_intents, "setup intent", remote.stripe_id, remote.setup_intent_id
        )
        if row is None:
            return EventOutcome.ignored(f"{remote.stripe_id} was not created by this service")
        mismatch = row.mismatch_with(remote)
        if mismatch is not None:
            return EventOutcome.quarantined(f"setup intent {row.id}: {mismatch}")
        before = row.state
        moved = row.apply_remote(remote, from_unix(event.created))
        attached = await attach_method(uow, row, await saved_method(processor, remote))
        if not moved and not attached:
            return EventOutcome.ignored(f"setup intent {row.id} stays {before.value}: stale")
        await uow.setup_intents.update(row)
        detail = f"setup intent {row.id}: {before.value} -> {row.state.value}"
        return EventOutcome.applied(detail=detail + (" (card attached)" if attached else ""))

    handler = reading(mapping.to_setup_intent, "setup intent", setup_intent_changed)
    return dict.fromkeys(SETUP_INTENT_EVENT_TYPES, handler)

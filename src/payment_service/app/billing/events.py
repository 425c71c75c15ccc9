"""Subscription and invoice events: stored and acknowledged until those capabilities land.

The subscriptions and invoices issue replaces these handlers with real ones
(order-safe through SUBSCRIPTION_TRANSITIONS and INVOICE_TRANSITIONS). Until
then every such event is kept in webhook_events, marked IGNORED with a detail
saying why, and answered 2xx, so Stripe never retries it and nothing is lost.
IGNORED is not terminal: once real handlers land, ``requeue_ignored``
(or ``webhooks replay EVENT_ID``) puts these events back in the queue and the
retrier applies them.
"""

from __future__ import annotations

from payment_service.app.ports.event_types import INVOICE_EVENT_TYPES, SUBSCRIPTION_EVENT_TYPES
from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.processor import RemoteEvent


async def _not_mirrored_yet(event: RemoteEvent, _uow: UnitOfWork) -> EventOutcome:
    kind = "subscriptions" if event.type.startswith("customer.subscription.") else "invoices"
    return EventOutcome.ignored(
        f"{event.type} for {event.object_id or 'unknown object'}: stored and acknowledged; "
        f"{kind} are not mirrored yet"
    )


def billing_event_handlers() -> dict[str, EventHandler]:
    return dict.fromkeys((*SUBSCRIPTION_EVENT_TYPES, *INVOICE_EVENT_TYPES), _not_mirrored_yet)

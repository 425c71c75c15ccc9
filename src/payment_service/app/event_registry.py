"""The one table of Stripe event types and their handlers.

Every capability contributes a ``Mapping[str, EventHandler]`` (payment_events,
billing_events, the refunds module …); ``build_event_registry`` merges them and
refuses a type claimed twice. A type nobody handles is still stored and
acknowledged: its handler answers IGNORED, never an error, so Stripe never
sees a 5xx for an event we simply do not use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from payment_service.app.event_handling import EventHandler, EventOutcome
from payment_service.app.ports import UnitOfWork
from payment_service.domain.processor import (
    RemoteCustomer,
    RemoteEvent,
    RemotePaymentIntent,
    RemotePaymentMethod,
)

log = logging.getLogger(__name__)

# The types the service must understand (issue 5); capabilities that are not built yet
# register store-and-acknowledge handlers for theirs.
REQUIRED_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
        "payment_method.attached",
        "payment_method.detached",
        "payment_method.updated",
        "customer.updated",
        "customer.deleted",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_succeeded",
        "invoice.voided",
        "invoice.marked_uncollectible",
    }
)


class StripeMapping(Protocol):
    """Stripe JSON -> domain snapshots. The module ``adapters.stripe.mapping`` is one."""

    def to_event(self, obj: Mapping[str, Any]) -> RemoteEvent: ...

    def to_payment_intent(self, obj: Mapping[str, Any]) -> RemotePaymentIntent: ...

    def to_payment_method(self, obj: Mapping[str, Any]) -> RemotePaymentMethod: ...

    def to_customer(self, obj: Mapping[str, Any]) -> RemoteCustomer: ...


async def store_only(event: RemoteEvent, _uow: UnitOfWork) -> EventOutcome:
    """The handler of every type nobody registered: keep the event, do nothing."""
    return EventOutcome.ignored(f"no handler for {event.type}; stored and acknowledged")


class EventRegistry:
    def __init__(self, handlers: Mapping[str, EventHandler]) -> None:
        self._handlers = dict(handlers)

    def handler_for(self, event_type: str) -> EventHandler:
        return self._handlers.get(event_type, store_only)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def missing_required(self) -> frozenset[str]:
        return REQUIRED_EVENT_TYPES - self.event_types


def build_event_registry(*handler_maps: Mapping[str, EventHandler]) -> EventRegistry:
    """Merge the capabilities' handler maps; a type registered twice is a wiring error."""
    merged: dict[str, EventHandler] = {}
    for handlers in handler_maps:
        for event_type, handler in handlers.items():
            if event_type in merged:
                raise ValueError(f"event type {event_type!r} has two handlers")
            merged[event_type] = handler
    registry = EventRegistry(merged)
    missing = registry.missing_required()
    if missing:
        log.warning(
            "event types without a handler are stored and ignored",
            extra={"event_types": sorted(missing)},
        )
    return registry

"""The one table of Stripe event types and their handlers.

Every capability contributes a ``Mapping[str, EventHandler]`` (customers, payments,
refunds, billing); ``build_event_registry`` merges them and
refuses a type claimed twice. A type nobody handles is still stored and
acknowledged: its handler answers IGNORED, never an error, so Stripe never
sees a 5xx for an event we simply do not use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from payment_service.app.ports.event_types import REQUIRED_EVENT_TYPES
from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.processor import RemoteEvent

log = logging.getLogger(__name__)


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

"""A Stripe event handler that first reads the object its payload carries: a payload that
cannot be read (the mapping's ValueError) is QUARANTINED, never applied nor retried."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.processor import RemoteEvent

P = TypeVar("P")


def reading(
    read: Callable[[Mapping[str, Any]], P],
    what: str,
    apply: Callable[[RemoteEvent, P, UnitOfWork], Awaitable[EventOutcome]],
) -> EventHandler:
    """The handler that ``apply``-s what ``read`` makes of the event's object; ``what``
    names the object in the quarantine's detail (``"unreadable refund: …"``)."""

    async def handle(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        try:
            payload = read(event.data_object)
        except ValueError as error:
            return EventOutcome.quarantined(f"unreadable {what}: {error}")
        return await apply(event, payload, uow)

    return handle

"""The contract between the webhook machinery and the per-capability event handlers.

A handler applies one verified Stripe event inside the unit of work that also
marks the event processed, so both commit together or not at all. Handlers
are registered by event type in one table (app/event_registry.py); every
capability (payments, payment methods, refunds, subscriptions, invoices)
contributes its own handlers.

A handler must be order-safe: Stripe does not deliver in order, so it moves
objects only through the domain transition tables and never back to an
older observation (use the event's ``created`` time via
``payment_service.domain.clock.from_unix``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from payment_service.app.ports import UnitOfWork
from payment_service.domain.processor import RemoteEvent


class OutcomeKind(StrEnum):
    APPLIED = "applied"  # the stored state changed (or was already the same)
    IGNORED = "ignored"  # nothing to do: stale, duplicate in effect, or a type we only store
    QUARANTINED = "quarantined"  # contradicts our data (amount, currency, customer): not applied


@dataclass(frozen=True, slots=True)
class EventOutcome:
    kind: OutcomeKind
    detail: str = ""
    # Cache keys to delete once the transaction has committed (e.g. "payment:pay_…").
    cache_keys: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def applied(cls, *cache_keys: str, detail: str = "") -> EventOutcome:
        return cls(OutcomeKind.APPLIED, detail, tuple(cache_keys))

    @classmethod
    def ignored(cls, detail: str) -> EventOutcome:
        return cls(OutcomeKind.IGNORED, detail)

    @classmethod
    def quarantined(cls, detail: str) -> EventOutcome:
        return cls(OutcomeKind.QUARANTINED, detail)


class ObjectNotYetKnown(Exception):
    """The event is about an object we have not stored (yet): retry the event later.

    Raised when the object cannot be fetched from Stripe and stored right away,
    e.g. a webhook that overtook our own commit. The retrier re-applies it with
    backoff until the object exists.
    """


EventHandler = Callable[[RemoteEvent, UnitOfWork], Awaitable[EventOutcome]]
EventHandlers = Mapping[str, EventHandler]

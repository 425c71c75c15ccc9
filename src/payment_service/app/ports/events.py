"""The contract between the webhook machinery and the capabilities' event handlers.

A handler applies one verified Stripe event inside the unit of work that also
marks the event processed, so both commit together or not at all. Every
capability (customers, payments, refunds, billing) contributes a map of
handlers by event type; the webhook registry merges them.

A handler must be order-safe: Stripe does not deliver in order, so it moves
objects only through the domain transition tables and never back to an
older observation (the event's ``created`` time, ``domain.clock.from_unix``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.processor import (
    RemoteCharge,
    RemoteCustomer,
    RemoteEvent,
    RemotePaymentIntent,
    RemotePaymentMethod,
    RemoteRefund,
)


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


class StripeMapping(Protocol):
    """Stripe's JSON -> domain snapshots; ``adapters.stripe.mapping`` is the one.

    The use cases never read Stripe's JSON themselves: an event's ``data_object``
    is handed to one of these.
    """

    def decode_event(self, payload: str) -> RemoteEvent:
        """A webhook body; ValueError when it is not a Stripe event."""
        ...

    def encode_event(self, event: RemoteEvent) -> str:
        """A Stripe-shaped JSON body for an event read from the API (to store it)."""
        ...

    def previous_customer(self, event: RemoteEvent) -> str | None:
        """The customer an object belonged to before the event (``previous_attributes``)."""
        ...

    def to_payment_intent(self, obj: Mapping[str, Any]) -> RemotePaymentIntent: ...

    def to_payment_method(self, obj: Mapping[str, Any]) -> RemotePaymentMethod: ...

    def to_customer(self, obj: Mapping[str, Any]) -> RemoteCustomer: ...

    def to_refund(self, obj: Mapping[str, Any]) -> RemoteRefund: ...

    def to_charge(self, obj: Mapping[str, Any]) -> RemoteCharge:
        """The charge; ``refunds`` holds its refunds only when the payload has all of them."""
        ...

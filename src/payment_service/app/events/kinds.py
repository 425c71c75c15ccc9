"""What a change of a stored object is called, as an event type.

The storage adapter writes one outbox row per event type this module names for a
change, in the change's transaction. A change is read from the object as it was loaded
(its ``Preimage``) and as it is saved:

- a new object is ``<kind>.created`` (a payment method: ``payment_method.attached``),
  followed by its state's event when it starts past its first states (an invoice
  mirrored already paid is ``invoice.created`` then ``invoice.paid``);
- a state change is ``<kind>.<state>`` (``payment.succeeded``, ``refund.failed``,
  ``subscription.past_due``) or one of the renames below (``invoice.finalized``,
  ``subscription.resumed``, ``payment.captured``);
- any other change of a field callers see is ``<kind>.updated`` (or a named one:
  ``payment.refunded``, ``payment.partially_refunded``, ``invoice.payment_failed``);
- a write that changes nothing callers see (a lease, a sync time) has no event.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANY = "*"


@dataclass(frozen=True, slots=True)
class Preimage:
    """An object's state and watched fields as loaded (copies, so later edits don't show)."""

    state: str | None
    watched: tuple[Any, ...]


def _extra_none(before: Preimage, entity: Any) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class EventKind:
    object_type: str
    watched: tuple[str, ...] = ()
    created: str = "created"
    first_states: frozenset[str] = frozenset()
    # (state before or ANY, state after) -> the event's name in place of the state's
    renames: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # a named event for a change without a state change, or None for ``updated``
    named_update: Callable[[Preimage, Any], str | None] = _extra_none

    def preimage(self, entity: Any) -> Preimage:
        values = tuple(copy.deepcopy(getattr(entity, name)) for name in self.watched)
        return Preimage(_state_of(entity), values)

    def event_types(self, before: Preimage | None, entity: Any) -> list[str]:
        """The events of saving ``entity`` (loaded as ``before``; None: just added)."""
        state = _state_of(entity)
        if before is None:
            types = [self._name(self.created)]
            if state is not None and state not in self.first_states:
                types.append(self._state_event(None, state))
            return types
        if state != before.state and state is not None:
            return [self._state_event(before.state, state)]
        if self.preimage(entity).watched == before.watched:
            return []
        return [self._name(self.named_update(before, entity) or "updated")]

    def _state_event(self, before: str | None, after: str) -> str:
        suffix = self.renames.get((before or ANY, after)) or self.renames.get((ANY, after))
        return self._name(suffix or after)

    def _name(self, suffix: str) -> str:
        return f"{self.object_type}.{suffix}"


def _state_of(entity: Any) -> str | None:
    state = getattr(entity, "state", None)
    return None if state is None else str(state)


def _payment_update(before: Preimage, entity: Any) -> str | None:
    refund_state = str(entity.refund_state)
    if refund_state != before.watched[0]:
        return "refunded" if refund_state == "refunded" else "partially_refunded"
    return None


def _invoice_update(before: Preimage, entity: Any) -> str | None:
    attempts_before = before.watched[0]
    if entity.attempt_count > attempts_before and str(entity.state) == "open":
        return "payment_failed"
    return None


PAYMENT = EventKind(
    "payment",
    watched=(
        "refund_state",
        "amount_refunded",
        "amount_capturable",
        "amount_received",
        "disputed",
        "dispute_id",
        "metadata",
        "description",
        "payment_method",
        "last_error_code",
    ),
    first_states=frozenset({"pending", "requires_payment_method", "requires_confirmation"}),
    renames={("requires_capture", "succeeded"): "captured"},
    named_update=_payment_update,
)
REFUND = EventKind("refund", first_states=frozenset({"pending"}))
PAYMENT_METHOD = EventKind(
    "payment_method",
    watched=("brand", "last4", "exp_month", "exp_year", "billing_name"),
    created="attached",
    first_states=frozenset({"attached"}),
)
SUBSCRIPTION = EventKind(
    "subscription",
    watched=(
        "items",
        "cancel_at_period_end",
        "cancel_at",
        "trial_end",
        "default_payment_method",
        "pause_behavior",
        "pause_resumes_at",
        "latest_invoice_id",
        "metadata",
    ),
    first_states=frozenset({"incomplete"}),
    renames={("paused", "active"): "resumed", ("paused", "trialing"): "resumed"},
)
INVOICE = EventKind(
    "invoice",
    watched=("attempt_count", "amount_paid", "amount_remaining", "payment_id"),
    first_states=frozenset({"draft"}),
    renames={
        (ANY, "open"): "finalized",
        (ANY, "void"): "voided",
        (ANY, "uncollectible"): "marked_uncollectible",
    },
    named_update=_invoice_update,
)
DISPUTE = EventKind(
    "dispute",
    watched=("evidence_submitted", "funds_withdrawn", "funds_reinstated", "payment_refundable"),
    first_states=frozenset({"warning_needs_response", "needs_response"}),
)

KINDS: tuple[EventKind, ...] = (PAYMENT, REFUND, PAYMENT_METHOD, SUBSCRIPTION, INVOICE, DISPUTE)
KIND_BY_OBJECT: Mapping[str, EventKind] = {kind.object_type: kind for kind in KINDS}

# The event types a caller may filter on (beyond these, "<kind>.<state>" of each state).
OBJECT_TYPES = frozenset(KIND_BY_OBJECT)

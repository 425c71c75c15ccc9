"""The event table: merging capabilities' handlers, unknown types, required coverage."""

from __future__ import annotations

import pytest

from payment_service.adapters.stripe import dispute_mapping, mapping, setup_intent_mapping
from payment_service.adapters.stripe.billing_mapping import CURRENT_API
from payment_service.app.billing.events import billing_event_handlers
from payment_service.app.customers.events import customer_event_handlers
from payment_service.app.disputes.events import dispute_event_handlers
from payment_service.app.payments.events import payment_event_handlers
from payment_service.app.ports.event_types import REQUIRED_EVENT_TYPES
from payment_service.app.ports.events import EventHandler, EventOutcome, OutcomeKind
from payment_service.app.setup_intents.events import setup_intent_event_handlers
from payment_service.app.webhooks.registry import build_event_registry, store_only
from payment_service.domain.processor import RemoteEvent

REFUND_TYPES = (
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
)


async def _refund_handler(event: RemoteEvent, uow: object) -> EventOutcome:
    return EventOutcome.applied(detail="refund")


def _billing() -> dict[str, object]:
    # The handlers are only looked up here, never run: no Stripe is needed.
    return billing_event_handlers(CURRENT_API, billing=None, processor=None)  # type: ignore[arg-type]


def _cards_and_disputes() -> dict[str, EventHandler]:
    # Looked up only, never run: no Stripe is needed.
    return {
        **setup_intent_event_handlers(setup_intent_mapping, processor=None),  # type: ignore[arg-type]
        **dispute_event_handlers(dispute_mapping, processor=None),  # type: ignore[arg-type]
    }


def _event(event_type: str) -> RemoteEvent:
    return RemoteEvent("evt_1", event_type, 1, {"id": "x_1", "object": "thing"}, None)


def test_payment_billing_and_refund_maps_cover_every_required_type() -> None:
    registry = build_event_registry(
        customer_event_handlers(mapping, processor=None),  # type: ignore[arg-type]
        payment_event_handlers(mapping),
        _billing(),
        _cards_and_disputes(),
        dict.fromkeys(REFUND_TYPES, _refund_handler),
    )
    assert registry.missing_required() == frozenset()
    assert registry.event_types >= REQUIRED_EVENT_TYPES


def test_the_payment_and_billing_modules_define_no_refund_handler() -> None:
    registry = build_event_registry(
        customer_event_handlers(mapping, processor=None),  # type: ignore[arg-type]
        payment_event_handlers(mapping),
        _billing(),
        _cards_and_disputes(),
    )
    assert registry.missing_required() == frozenset(REFUND_TYPES)


def test_a_type_claimed_twice_is_a_wiring_error() -> None:
    with pytest.raises(ValueError, match=r"invoice\.paid"):
        build_event_registry(_billing(), {"invoice.paid": _refund_handler})


async def test_unknown_types_are_stored_and_ignored() -> None:
    registry = build_event_registry(_billing())
    handler = registry.handler_for("issuing_card.created")
    assert handler is store_only
    outcome = await handler(_event("issuing_card.created"), None)  # type: ignore[arg-type]
    assert outcome.kind is OutcomeKind.IGNORED
    assert "issuing_card.created" in outcome.detail

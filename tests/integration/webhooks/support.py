"""Stripe events for tests: Stripe's own example objects (tests/fixtures/stripe/fixtures3.json,
read through tests.support.stripe_fixtures), wrapped in events and signed with the stripe
library's own signing helper."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import stripe

from tests.support.stripe_fixtures import stripe_fixture, stripe_fixtures

SECRET = "whsec_test_current_secret"
OLD_SECRET = "whsec_test_previous_secret"

# Every event type the service must take (issue 5).
ALL_TYPES = (
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
)


def resource(name: str) -> dict[str, Any]:
    """A deep copy of Stripe's example object (``payment_intent``, ``customer`` …)."""
    return stripe_fixture(name)


def resource_for(event_type: str) -> str:
    if event_type.startswith("charge.refund."):
        return "refund"
    if event_type.startswith("customer.subscription."):
        return "subscription"
    name = event_type.rsplit(".", 1)[0]
    return name if name in stripe_fixtures() else event_type.split(".", 1)[0]


def new_event_id() -> str:
    return f"evt_test_{secrets.token_hex(8)}"


def event(
    event_type: str,
    obj: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    created: int | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event in today's API shape around ``obj`` (default: Stripe's example object)."""
    body = resource("event")
    body["id"] = event_id or new_event_id()
    body["type"] = event_type
    body["created"] = created if created is not None else int(time.time())
    body["api_version"] = "2025-08-27.basil"
    body["data"] = {
        "object": obj
        if obj is not None
        else resource(resource_for(event_type))
        if resource_for(event_type) in stripe_fixtures()
        else {"id": "x_1", "object": "unknown"}
    }
    if previous_attributes is not None:
        body["data"]["previous_attributes"] = previous_attributes
    return body


def payment_intent(
    stripe_id: str,
    status: str,
    *,
    amount: int = 1050,
    currency: str = "usd",
    payment_id: str | None = None,
    customer: str | None = None,
) -> dict[str, Any]:
    """Stripe's example PaymentIntent with our fields set."""
    pi = resource("payment_intent")
    pi.update(
        id=stripe_id,
        status=status,
        amount=amount,
        currency=currency,
        customer=customer,
        last_payment_error=None,
        next_action=None,
        amount_received=amount if status == "succeeded" else 0,
        amount_capturable=amount if status == "requires_capture" else 0,
        metadata={"payment_id": payment_id} if payment_id else {},
    )
    return pi


def body_of(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, indent=2).encode("utf-8")


def signature(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header, made by the stripe library's own helper."""
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), secret, timestamp=timestamp
    )


def signed(evt: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    payload = body_of(evt)
    return payload, {
        "Content-Type": "application/json",
        "Stripe-Signature": signature(payload, secret),
    }


# --- stored objects ------------------------------------------------------------------------


async def store_customer(uow_factory: Any) -> Any:
    from tests.integration.db import builders

    customer = builders.customer()
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.commit()
    return customer


async def store_payment(uow_factory: Any, customer: Any = None, **overrides: Any) -> Any:
    """A payment as the create flow leaves it: linked to a PaymentIntent, waiting to be confirmed."""
    from payment_service.domain.states import CaptureMethod, PaymentState
    from tests.integration.db import builders

    values: dict[str, Any] = dict(
        state=PaymentState.REQUIRES_CONFIRMATION,
        capture_method=CaptureMethod.AUTOMATIC,
        amount=1050,
        currency="usd",
        amount_capturable=0,
        amount_received=0,
        last_error_code=None,
        last_error_decline_code=None,
        last_error_message=None,
        next_action_type=None,
        next_action_url=None,
        lease_until=None,
        remote_updated_at=None,
        synced_at=None,
    )
    values.update(overrides)
    payment = builders.payment(customer, **values)
    async with uow_factory() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment


async def load_payment(uow_factory: Any, payment_id: str) -> Any:
    async with uow_factory(read_only=True) as uow:
        return await uow.payments.get(payment_id)


async def stored_events(uow_factory: Any) -> list[Any]:
    from payment_service.domain.pagination import PageRequest

    async with uow_factory(read_only=True) as uow:
        page = await uow.webhook_events.list_events(page=PageRequest(page_size=200))
    return page.items


async def webhook_audit(uow_factory: Any, object_type: str, object_id: str) -> list[Any]:
    async with uow_factory(read_only=True) as uow:
        entries = await uow.audit.list_for_object(object_type, object_id)
    return [e for e in entries if e.actor == "stripe"]

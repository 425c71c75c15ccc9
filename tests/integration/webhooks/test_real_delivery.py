"""Real deliveries: localstripe signs and posts events to the in-process sidecar."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest_asyncio

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.webhooks.stack import (
    PaymentStack,
    build_stack,
    gateway_config,
    serve_webhooks,
)
from tests.integration.webhooks.support import SECRET, load_payment, stored_events, webhook_audit
from tests.support.localstripe import LocalStripe
from tests.support.webhooks import apply_one, wait_settled


@pytest_asyncio.fixture
async def stack(
    uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> AsyncIterator[PaymentStack]:
    gateway = StripeGateway(gateway_config(localstripe.base_url, localstripe.api_key))
    running = build_stack(uow_factory, gateway)
    webhook_id = f"webhooks-it-{secrets.token_hex(4)}"
    try:
        async for url in serve_webhooks(running.webhooks):
            await localstripe.register_webhook(webhook_id, url, SECRET)
            yield running
            # Point the registration at nothing once this sidecar is gone.
            await localstripe.register_webhook(webhook_id, url, SECRET, events=["test.never"])
    finally:
        await gateway.close()


async def _wait_for_event(stack: PaymentStack, event_type: str, pi_id: str, within_s: float = 10.0):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for record in await stored_events(stack.uow_factory):
            if record.type == event_type and pi_id in record.payload:
                # Stored when answered; the appliers apply it after.
                apply = apply_one(stack.webhooks, record.stripe_event_id)
                return await wait_settled(stack.uow_factory, record.stripe_event_id, apply=apply)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} for {pi_id} delivered in {within_s}s")


async def test_payment_confirmed_at_stripe_is_brought_in_by_the_webhook(
    stack: PaymentStack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method()
    payment = await stack.create(pm, confirm=False)
    assert payment.state is PaymentState.REQUIRES_CONFIRMATION
    assert payment.stripe_payment_intent_id is not None
    # The customer confirms in the browser: only the webhook tells us.
    await stack.gateway.confirm_payment_intent(
        payment.stripe_payment_intent_id, idempotency_key=f"{payment.id}:browser", payment_method=pm
    )
    record = await _wait_for_event(
        stack, "payment_intent.succeeded", payment.stripe_payment_intent_id
    )
    assert record.state is WebhookEventState.PROCESSED
    stored = await load_payment(stack.uow_factory, payment.id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.amount_received == 2500
    audit = await webhook_audit(
        stack.uow_factory, "payment_intent", payment.stripe_payment_intent_id
    )
    assert "webhook.payment_intent.succeeded" in {e.action for e in audit}


async def test_payment_created_and_confirmed_by_us_gets_its_webhook_too(
    stack: PaymentStack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method()
    payment = await stack.create(pm, confirm=True)
    assert payment.state is PaymentState.SUCCEEDED
    assert payment.stripe_payment_intent_id is not None
    record = await _wait_for_event(
        stack, "payment_intent.succeeded", payment.stripe_payment_intent_id
    )
    assert record.state in (WebhookEventState.PROCESSED, WebhookEventState.IGNORED)
    assert (await load_payment(stack.uow_factory, payment.id)).state is PaymentState.SUCCEEDED

"""Waiting for stored webhook events: the endpoint answers once an event is stored, the
appliers apply it after (``app.webhooks.ingest``); tests that look at an event's effect
wait until it settled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.webhooks.service import Webhooks
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.states import WebhookEventState

# What a settled event came to, in the words the endpoint used when it applied inline.
SETTLED_AS = {
    WebhookEventState.PROCESSED: "applied",
    WebhookEventState.IGNORED: "ignored",
    WebhookEventState.QUARANTINED: "quarantined",
    WebhookEventState.FAILED: "deferred",
    WebhookEventState.DEAD: "dead",
}

# What the endpoint answered 200 for when it applied inline (202 was ``deferred``).
ANSWERED_200 = frozenset({"applied", "ignored", "quarantined", "duplicate"})


async def wait_settled(
    uow_factory: UnitOfWorkFactory,
    stripe_event_id: str,
    *,
    apply: Callable[[], Awaitable[object]] | None = None,
    timeout_s: float = 15.0,
) -> WebhookEvent:
    """The stored event once an applier attempted it (no longer RECEIVED): applied,
    ignored, quarantined, or FAILED/DEAD. With ``apply`` (e.g. ``webhooks.retry_due``)
    the test drives the applier itself; without, appliers running elsewhere do."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with uow_factory(read_only=True) as uow:
            record = await uow.webhook_events.find_by_stripe_event_id(stripe_event_id)
        if record is not None and record.state is not WebhookEventState.RECEIVED:
            return record
        if time.monotonic() > deadline:
            state = None if record is None else record.state.value
            raise AssertionError(f"{stripe_event_id} not settled in {timeout_s}s ({state})")
        if apply is not None:
            await apply()
        await asyncio.sleep(0.01)


def apply_one(webhooks: Webhooks, stripe_event_id: str) -> Callable[[], Awaitable[object]]:
    """Apply that one stored event the way an applier does (``Retrier.attempt``) if it is
    still RECEIVED, touching no other event (a test's own retries stay its own)."""

    async def apply() -> None:
        async with webhooks.retrier.applier.uow_factory(read_only=True) as uow:
            record = await uow.webhook_events.find_by_stripe_event_id(stripe_event_id)
        if record is not None and record.state is WebhookEventState.RECEIVED:
            await webhooks.retrier.attempt(record)

    return apply


async def settled_as(
    uow_factory: UnitOfWorkFactory,
    stripe_event_id: str,
    *,
    apply: Callable[[], Awaitable[object]] | None = None,
) -> str:
    """``wait_settled``'s event as applied, ignored, quarantined, deferred or dead."""
    return SETTLED_AS[(await wait_settled(uow_factory, stripe_event_id, apply=apply)).state]

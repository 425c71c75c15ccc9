"""The background retrier: stored events that are due (new, failed, replayed) applied again.

Due events are taken with ``claim_due`` (FOR UPDATE SKIP LOCKED on PostgreSQL)
and leased by moving ``next_attempt_at`` forward, so only one replica works on an
event at a time; after ``max_attempts`` an event is DEAD. The attempt that applies
a claimed event locks its row and checks that the lease is still the one it
claimed, so an attempt that outlived its lease (another replica claimed the event
meanwhile) applies nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from opentelemetry import trace

from payment_service.app.common.trace_links import links_to
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.ports.webhooks import MalformedEvent
from payment_service.app.webhooks.applier import MAX_ERROR_CHARS, EventApplier
from payment_service.app.webhooks.intake import WebhookIntake
from payment_service.app.webhooks.policy import Delivery
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.states import WebhookEventState

log = logging.getLogger(__name__)

_DUE = frozenset({WebhookEventState.RECEIVED, WebhookEventState.FAILED})

_TRACER = trace.get_tracer("payment_service.webhooks")


@dataclass
class Retrier:
    applier: EventApplier
    intake: WebhookIntake
    backlog: Callable[[], Awaitable[object]]

    async def retry_due(self, limit: int | None = None) -> int:
        """Apply up to ``limit`` due events (new, failed or replayed); return how many."""
        claimed = await self.claim(limit or self.applier.policy.batch_size)
        for record in claimed:
            await self.attempt(record)
        return len(claimed)

    async def run_retrier(self, poll_s: float, stopping: asyncio.Event) -> None:
        """The background retrier: runs until ``stopping`` is set; refreshes the backlog
        gauges about once per ``poll_s``."""
        gauges_due = 0.0
        while not stopping.is_set():
            try:
                done = await self.retry_due()
            except Exception:
                log.exception("webhook retrier pass failed")
                done = 0
            if time.monotonic() >= gauges_due:
                gauges_due = time.monotonic() + poll_s
                try:
                    await self.backlog()
                except Exception:
                    log.exception("counting failed and dead webhook events failed")
            if done < self.applier.policy.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), poll_s)

    async def claim(self, limit: int) -> list[WebhookEvent]:
        now = utcnow()
        lease_until = now + timedelta(seconds=self.applier.policy.lease_s)
        async with self.applier.uow_factory() as uow:
            due = await uow.webhook_events.claim_due(now, limit)
            for record in due:
                record.next_attempt_at = lease_until
                await uow.webhook_events.update(record)
            await uow.commit()
        return due

    async def attempt(self, claimed: WebhookEvent) -> Delivery:
        """Apply a stored event again: a span of its own (the delivery's trace is long
        over), linked to the delivery's."""
        with _TRACER.start_as_current_span(
            f"webhook retry {claimed.type}",
            attributes={
                "stripe.event_id": claimed.stripe_event_id,
                "stripe.event_type": claimed.type,
                "webhook.attempts": claimed.attempts,
            },
            links=links_to(claimed.trace_parent),  # the delivery that stored it
        ) as span:
            delivery = await self._attempt(claimed)
            span.set_attribute("webhook.delivery", delivery.value)
            return delivery

    async def _attempt(self, claimed: WebhookEvent) -> Delivery:
        try:
            event = self.intake.decode(claimed.payload)
        except MalformedEvent as error:
            return await self._record_stored_failure(claimed, error, dead=True)

        async def if_ours(uow: UnitOfWork) -> WebhookEvent | None:
            # Locked, then checked: a replica that claimed the event after our lease ran
            # out has moved next_attempt_at, and we apply nothing.
            record = await uow.webhook_events.get_for_update(claimed.id)
            return record if record is not None and _still_ours(record, claimed) else None

        try:
            outcome = await self.applier.apply_found(event, if_ours)
        except Exception as error:
            return await self._record_stored_failure(claimed, error)
        if outcome is None:
            return Delivery.SKIPPED
        self.applier.metrics.settled_after((utcnow() - claimed.receive_time).total_seconds())
        return await self.applier.after_commit(event, outcome)

    async def _record_stored_failure(
        self, claimed: WebhookEvent, error: Exception, *, dead: bool = False
    ) -> Delivery:
        async with self.applier.uow_factory() as uow:
            record = await uow.webhook_events.get_for_update(claimed.id)
            if record is None or not _still_ours(record, claimed):
                return Delivery.SKIPPED
            if dead:
                record.mark_dead(f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS])
            else:
                self.applier.fail(record, error)
            await uow.webhook_events.update(record)
            await uow.commit()
        self.applier.report_failure(record, error)
        return Delivery.DEFERRED


def _still_ours(record: WebhookEvent | None, claimed: WebhookEvent) -> bool:
    """The event is still waiting and still under our lease (no other replica took it over)."""
    return (
        record is not None
        and record.state in _DUE
        and record.next_attempt_at == claimed.next_attempt_at
    )

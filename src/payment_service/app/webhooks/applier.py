"""Applying one stored event through the registry, in one transaction with its record.

A handler never calls Stripe inside the transaction: it asks for the read with
``common.stripe_reads.fetched``, the transaction is rolled back, the read runs
with no transaction open, and the event is applied again (``in_transaction``,
``apply_found``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.request_context import current_trace_id
from payment_service.app.common.stripe_reads import FetchScope, NeedsFetch
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.events import EventOutcome, OutcomeKind
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.app.ports.webhooks import WebhookMetricsSink
from payment_service.app.webhooks.policy import DELIVERY_OF, Delivery, RetryPolicy
from payment_service.app.webhooks.registry import EventRegistry
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import AuditEntry, WebhookEvent
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import WebhookEventState

log = logging.getLogger(__name__)

WEBHOOK_ACTOR = "stripe"
MAX_ERROR_CHARS = 2000
R = TypeVar("R")


class TooManyReads(Exception):
    """A handler kept asking for Stripe reads; the attempt fails and is retried later."""


@dataclass
class Settled:
    """The writes that settle a batch's events (their records, their audit rows), held
    back and written with one statement each (``flush``) before the batch commits."""

    records: list[WebhookEvent] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)

    async def flush(self, uow: UnitOfWork) -> None:
        await uow.webhook_events.update_many(self.records)
        await uow.audit.add_many(self.audits)
        self.records.clear()
        self.audits.clear()


@dataclass
class EventApplier:
    uow_factory: UnitOfWorkFactory
    registry: EventRegistry
    cache: Cache
    metrics: WebhookMetricsSink
    policy: RetryPolicy

    async def in_transaction(self, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        """Run ``work`` in a write unit of work; when its handler asks for a Stripe read
        (NeedsFetch), roll back, do the read with no transaction open, and run it again."""
        scope = FetchScope()
        with scope.active():
            for _ in range(self.policy.max_reads + 1):
                try:
                    async with self.uow_factory() as uow:
                        return await work(uow)
                except NeedsFetch as need:
                    read = need
                await scope.serve(read)
        raise TooManyReads(f"more than {self.policy.max_reads} Stripe reads for one event")

    async def apply_found(
        self, event: RemoteEvent, find: Callable[[UnitOfWork], Awaitable[WebhookEvent | None]]
    ) -> EventOutcome | None:
        """Apply ``event`` to the record ``find`` gives and commit, in one ``in_transaction``;
        None (and nothing applied) when ``find`` gives no record."""

        async def find_and_apply(uow: UnitOfWork) -> EventOutcome | None:
            record = await find(uow)
            if record is None:
                return None
            outcome = await self.apply(uow, record, event)
            await uow.commit()
            return outcome

        return await self.in_transaction(find_and_apply)

    async def apply(
        self,
        uow: UnitOfWork,
        record: WebhookEvent,
        event: RemoteEvent,
        settled: Settled | None = None,
    ) -> EventOutcome:
        """Apply ``event`` to its ``record``; with ``settled``, the record's update and the
        audit row are left to ``settled.flush`` (which must run before the commit)."""
        token = current_trace_id.set(current_trace_id.get() or event.stripe_id)
        try:
            outcome = await self.registry.handler_for(event.type)(event, uow)
        finally:
            current_trace_id.reset(token)
        now = utcnow()
        if outcome.kind is OutcomeKind.APPLIED:
            record.mark_processed(now)
        elif outcome.kind is OutcomeKind.IGNORED:
            record.ignore(outcome.detail or None)
            record.processed_at = now
        else:
            record.quarantine(outcome.detail or "quarantined")
            record.processed_at = now
        entry = audit_entry(
            WEBHOOK_ACTOR,
            f"webhook.{event.type}",
            (event.object_type or "event", event.object_id or event.stripe_id),
            "ok" if outcome.kind is OutcomeKind.APPLIED else outcome.kind.value,
            {"stripe_event_id": event.stripe_id, "detail": outcome.detail[:500]},
        )
        if settled is not None:
            settled.records.append(record)
            settled.audits.append(entry)
        else:
            await uow.webhook_events.update(record)
            await uow.audit.add(entry)
        return outcome

    async def after_commit(self, event: RemoteEvent, outcome: EventOutcome) -> Delivery:
        if outcome.cache_keys:
            await self.cache.delete(*outcome.cache_keys)
        if outcome.kind is OutcomeKind.QUARANTINED:
            log.warning(
                "webhook event quarantined",
                extra={
                    "stripe_event_id": event.stripe_id,
                    "event_type": event.type,
                    "detail": outcome.detail,
                },
            )
        delivery = DELIVERY_OF[outcome.kind]
        self.metrics.outcome(event.type, delivery.value)
        return delivery

    def fail(self, record: WebhookEvent, error: Exception) -> None:
        """Count a failed attempt: FAILED with the next attempt time, or DEAD when spent."""
        message = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        if record.attempts + 1 >= self.policy.max_attempts:
            record.mark_dead(message)
        else:
            record.mark_failed(message, utcnow() + self.policy.delay(record.attempts + 1))

    def report_failure(self, record: WebhookEvent, error: Exception) -> None:
        dead = record.state is WebhookEventState.DEAD
        log.log(
            logging.ERROR if dead else logging.WARNING,
            "webhook event dead: retries exhausted" if dead else "applying webhook event failed",
            extra={
                "stripe_event_id": record.stripe_event_id,
                "event_type": record.type,
                "attempts": record.attempts,
                "error": type(error).__name__,
                "next_attempt_at": record.next_attempt_at,
            },
        )
        self.metrics.outcome(record.type, "dead" if dead else "failed")

"""Stripe events: store once by event id, apply through the registry, retry, replay.

One path for every source of events: a verified webhook delivery (``receive``),
an event the reconciler read from ``/v1/events`` (``ingest``), the background
retrier (``retry_due``) and an operator's replay (``replay``).

A new event is inserted and applied in one transaction, so an acknowledged
event is either applied or, when applying raised, stored as FAILED with the
error, the attempt count and the next attempt time, in a second transaction
after the first rolled back. Duplicates (also racing ones: the unique Stripe
event id makes the second insert wait for the first) change nothing. The
retrier takes due events with ``claim_due`` (FOR UPDATE SKIP LOCKED on
PostgreSQL) and leases them by moving ``next_attempt_at`` forward, so only one
replica works on an event at a time; after ``max_attempts`` an event is DEAD.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from payment_service.app.audit import audit_entry, current_trace_id
from payment_service.app.cache import Cache
from payment_service.app.event_handling import EventOutcome, OutcomeKind
from payment_service.app.event_registry import EventRegistry, StripeMapping
from payment_service.app.ports import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.clock import from_unix, utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.errors import NotFound
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import WebhookEventState

log = logging.getLogger(__name__)

WEBHOOK_ACTOR = "stripe"
_DUE = frozenset({WebhookEventState.RECEIVED, WebhookEventState.FAILED})
_MAX_ERROR_CHARS = 2000


class WebhookRejected(Exception):
    """A delivery that must not be stored: bad or missing signature, stale or future timestamp."""


class MalformedEvent(Exception):
    """A verified body that is not a Stripe event (no JSON object, no id or type)."""


class WebhookVerifier(Protocol):
    @property
    def configured(self) -> bool:
        """False when no endpoint secret is set: the endpoint then answers 404."""
        ...

    def verify(self, payload: bytes, signature_header: str | None) -> None:
        """Raise WebhookRejected unless one configured secret signed ``payload`` recently."""
        ...


class WebhookMetricsSink(Protocol):
    def outcome(self, event_type: str, outcome: str) -> None:
        """Count one handled delivery or attempt: applied, ignored, quarantined, duplicate,
        failed or dead."""
        ...


class Delivery(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"  # already stored: nothing done
    DEFERRED = "deferred"  # stored; applying failed and is retried later
    SKIPPED = "skipped"  # the retrier found the event already taken or finished


_DELIVERY_OF = {
    OutcomeKind.APPLIED: Delivery.APPLIED,
    OutcomeKind.IGNORED: Delivery.IGNORED,
    OutcomeKind.QUARANTINED: Delivery.QUARANTINED,
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 2.0
    max_delay_s: float = 3600.0
    lease_s: float = 60.0  # how long a claimed event stays invisible to other replicas
    batch_size: int = 20

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt: base, 2x base, 4x base … capped."""
        exponent = max(attempts - 1, 0)
        seconds = min(self.base_delay_s * (2 ** min(exponent, 32)), self.max_delay_s)
        return timedelta(seconds=seconds)


def event_payload(event: RemoteEvent) -> str:
    """A Stripe-shaped JSON body for an event read from the API (not delivered to us)."""
    data: dict[str, Any] = {"object": dict(event.data_object)}
    if event.previous_attributes is not None:
        data["previous_attributes"] = dict(event.previous_attributes)
    body = {
        "id": event.stripe_id,
        "object": "event",
        "type": event.type,
        "created": event.created,
        "api_version": event.api_version,
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)


class Webhooks:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        registry: EventRegistry,
        mapping: StripeMapping,
        cache: Cache,
        metrics: WebhookMetricsSink,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._registry = registry
        self._mapping = mapping
        self._cache = cache
        self._metrics = metrics
        self.policy = policy or RetryPolicy()

    # --- new events -------------------------------------------------------------------

    def decode(self, payload: str) -> RemoteEvent:
        try:
            body = json.loads(payload)
            if not isinstance(body, Mapping):
                raise MalformedEvent("the body is not a JSON object")
            return self._mapping.to_event(body)
        except (ValueError, TypeError) as error:
            raise MalformedEvent(str(error)) from None

    async def receive(self, payload: str) -> Delivery:
        """A verified delivery: store it by its Stripe id and apply it (MalformedEvent if not
        an event)."""
        return await self._store_and_apply(payload, self.decode(payload))

    async def ingest(self, event: RemoteEvent) -> Delivery:
        """An event read from Stripe's API: the same store-and-apply path as a delivery."""
        return await self._store_and_apply(event_payload(event), event)

    async def _store_and_apply(self, payload: str, event: RemoteEvent) -> Delivery:
        record = _new_record(new_id("whe"), payload, event)
        try:
            async with self._uow_factory() as uow:
                if not await uow.webhook_events.insert_if_new(record):
                    self._metrics.outcome(event.type, Delivery.DUPLICATE.value)
                    return Delivery.DUPLICATE
                outcome = await self._apply(uow, record, event)
                await uow.commit()
        except Exception as error:  # the handler failed: keep the event, retry it later
            return await self._record_new_failure(_new_record(record.id, payload, event), error)
        return await self._after_commit(event, outcome)

    async def _record_new_failure(self, record: WebhookEvent, error: Exception) -> Delivery:
        self._fail(record, error)
        async with self._uow_factory() as uow:
            if not await uow.webhook_events.insert_if_new(record):
                self._metrics.outcome(record.type, Delivery.DUPLICATE.value)
                return Delivery.DUPLICATE
            await uow.commit()
        self._report_failure(record, error)
        return Delivery.DEFERRED

    # --- applying -------------------------------------------------------------------

    async def _apply(
        self, uow: UnitOfWork, record: WebhookEvent, event: RemoteEvent
    ) -> EventOutcome:
        token = current_trace_id.set(current_trace_id.get() or event.stripe_id)
        try:
            outcome = await self._registry.handler_for(event.type)(event, uow)
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
        await uow.webhook_events.update(record)
        await uow.audit.add(
            audit_entry(
                actor=WEBHOOK_ACTOR,
                action=f"webhook.{event.type}",
                object_type=event.object_type or "event",
                object_id=event.object_id or event.stripe_id,
                outcome="ok" if outcome.kind is OutcomeKind.APPLIED else outcome.kind.value,
                detail={"stripe_event_id": event.stripe_id, "detail": outcome.detail[:500]},
            )
        )
        return outcome

    async def _after_commit(self, event: RemoteEvent, outcome: EventOutcome) -> Delivery:
        if outcome.cache_keys:
            await self._cache.delete(*outcome.cache_keys)
        if outcome.kind is OutcomeKind.QUARANTINED:
            log.warning(
                "webhook event quarantined",
                extra={
                    "stripe_event_id": event.stripe_id,
                    "event_type": event.type,
                    "detail": outcome.detail,
                },
            )
        delivery = _DELIVERY_OF[outcome.kind]
        self._metrics.outcome(event.type, delivery.value)
        return delivery

    def _fail(self, record: WebhookEvent, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"[:_MAX_ERROR_CHARS]
        if record.attempts + 1 >= self.policy.max_attempts:
            record.mark_dead(message)
        else:
            record.mark_failed(message, utcnow() + self.policy.delay(record.attempts + 1))

    def _report_failure(self, record: WebhookEvent, error: Exception) -> None:
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
        self._metrics.outcome(record.type, "dead" if dead else "failed")

    # --- stored events: retrier and replay --------------------------------------------

    async def retry_due(self, limit: int | None = None) -> int:
        """Apply up to ``limit`` due events (new, failed or replayed); return how many."""
        claimed = await self._claim(limit or self.policy.batch_size)
        for record in claimed:
            await self._attempt(record)
        return len(claimed)

    async def run_retrier(self, poll_s: float, stopping: asyncio.Event) -> None:
        """The background retrier: runs until ``stopping`` is set."""
        while not stopping.is_set():
            try:
                done = await self.retry_due()
            except Exception:
                log.exception("webhook retrier pass failed")
                done = 0
            if done < self.policy.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), poll_s)

    async def _claim(self, limit: int) -> list[WebhookEvent]:
        now = utcnow()
        lease_until = now + timedelta(seconds=self.policy.lease_s)
        async with self._uow_factory() as uow:
            due = await uow.webhook_events.claim_due(now, limit)
            for record in due:
                record.next_attempt_at = lease_until
                await uow.webhook_events.update(record)
            await uow.commit()
        return due

    async def _attempt(self, claimed: WebhookEvent) -> Delivery:
        try:
            event = self.decode(claimed.payload)
        except MalformedEvent as error:
            return await self._record_stored_failure(claimed, error, dead=True)
        try:
            async with self._uow_factory() as uow:
                record = await uow.webhook_events.get(claimed.id)
                if not _still_ours(record, claimed):
                    return Delivery.SKIPPED
                assert record is not None
                outcome = await self._apply(uow, record, event)
                await uow.commit()
        except Exception as error:
            return await self._record_stored_failure(claimed, error)
        return await self._after_commit(event, outcome)

    async def _record_stored_failure(
        self, claimed: WebhookEvent, error: Exception, *, dead: bool = False
    ) -> Delivery:
        async with self._uow_factory() as uow:
            record = await uow.webhook_events.get(claimed.id)
            if not _still_ours(record, claimed):
                return Delivery.SKIPPED
            assert record is not None
            if dead:
                record.mark_dead(f"{type(error).__name__}: {error}"[:_MAX_ERROR_CHARS])
            else:
                self._fail(record, error)
            await uow.webhook_events.update(record)
            await uow.commit()
        self._report_failure(record, error)
        return Delivery.DEFERRED

    async def replay(self, event_id: str) -> WebhookEvent:
        """Operator replay of a failed, dead or quarantined event (our ``whe_`` id or Stripe's
        ``evt_`` id): queue it again and apply it now; return it as it ended."""
        now = utcnow()
        async with self._uow_factory() as uow:
            record = await uow.webhook_events.get(event_id)
            if record is None:
                record = await uow.webhook_events.find_by_stripe_event_id(event_id)
            if record is None:
                raise NotFound("webhook_event", event_id)
            record.requeue_for_replay(now)
            record.next_attempt_at = now + timedelta(seconds=self.policy.lease_s)
            await uow.webhook_events.update(record)
            await uow.commit()
        await self._attempt(record)
        async with self._uow_factory(read_only=True) as uow:
            final = await uow.webhook_events.get(record.id)
        if final is None:
            raise NotFound("webhook_event", record.id)
        return final

    async def replay_all_failed(self) -> list[WebhookEvent]:
        """Replay every FAILED and DEAD event, oldest first."""
        stuck = await self.list_events((WebhookEventState.FAILED, WebhookEventState.DEAD))
        return [await self.replay(record.id) for record in reversed(stuck)]

    async def list_events(
        self, states: Collection[WebhookEventState] = (), limit: int | None = None
    ) -> list[WebhookEvent]:
        """Stored events, newest received first, optionally only in ``states``."""
        found: list[WebhookEvent] = []
        page = PageRequest(page_size=200)
        async with self._uow_factory(read_only=True) as uow:
            while limit is None or len(found) < limit:
                batch = await uow.webhook_events.list_events(page=page, states=states)
                found.extend(batch.items)
                if batch.is_last:
                    break
                page = PageRequest(page_size=200, page_token=batch.next_page_token)
        return found if limit is None else found[:limit]


def _new_record(record_id: str, payload: str, event: RemoteEvent) -> WebhookEvent:
    return WebhookEvent(
        id=record_id,
        stripe_event_id=event.stripe_id,
        type=event.type,
        created=from_unix(event.created),
        payload=payload,
    )


def _still_ours(record: WebhookEvent | None, claimed: WebhookEvent) -> bool:
    """The event is still waiting and still under our lease (no other replica took it over)."""
    return (
        record is not None
        and record.state in _DUE
        and record.next_attempt_at == claimed.next_attempt_at
    )

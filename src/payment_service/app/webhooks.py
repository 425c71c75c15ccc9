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
replica works on an event at a time; after ``max_attempts`` an event is DEAD. The
attempt that applies a claimed event locks its row and checks that the lease is
still the one it claimed, so an attempt that outlived its lease (another replica
claimed the event meanwhile) applies nothing.

A handler never calls Stripe inside the transaction: it asks for the read with
``event_handling.fetched``, the transaction is rolled back, the read runs with no
transaction open, and the event is applied again (``_in_transaction``).

The default retry budget covers about three days (Stripe's own delivery window):
the backoff doubles up to ``max_delay_s`` and stays there. Events that died of a
transient error (Stripe away, an object not stored yet) are put back in the queue
by the reconciler (``requeue_transient_dead``); ``backlog`` feeds the gauges of
FAILED and DEAD events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from payment_service.app.audit import audit_entry, current_trace_id
from payment_service.app.cache import Cache
from payment_service.app.event_handling import (
    EventOutcome,
    FetchScope,
    NeedsFetch,
    ObjectNotYetKnown,
    OutcomeKind,
)
from payment_service.app.event_registry import EventRegistry, StripeMapping
from payment_service.app.ports import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.clock import from_unix, utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.errors import Aborted, NotFound, ResourceExhausted, Unavailable
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import WebhookEventState

log = logging.getLogger(__name__)

WEBHOOK_ACTOR = "stripe"
_DUE = frozenset({WebhookEventState.RECEIVED, WebhookEventState.FAILED})
_MAX_ERROR_CHARS = 2000
_BACKLOG_STATES = (WebhookEventState.FAILED, WebhookEventState.DEAD)
# Errors that say "not now" rather than "never": an event that died of one of them is
# worth another round of retries (``requeue_transient_dead``).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    Unavailable,
    ResourceExhausted,
    Aborted,
    ObjectNotYetKnown,
    TimeoutError,
)
_TRANSIENT_PREFIXES = tuple(f"{cls.__name__}: " for cls in TRANSIENT_ERRORS)
R = TypeVar("R")


class TooManyReads(Exception):
    """A handler kept asking for Stripe reads; the attempt fails and is retried later."""


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

    def backlog(self, state: str, count: int, oldest_age_s: float) -> None:
        """How many stored events are in ``state`` (failed, dead) and the age of the oldest."""
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
    # 2 s doubling to 600 s, then every 600 s: 450 attempts last about 3 days, the time
    # Stripe itself keeps retrying a delivery.
    max_attempts: int = 450
    base_delay_s: float = 2.0
    max_delay_s: float = 600.0
    # How long a claimed event stays invisible to other replicas; keep it above the
    # longest attempt (Stripe timeout x (retries + 1) per read, plus a margin).
    lease_s: float = 90.0
    batch_size: int = 20
    max_reads: int = 4  # Stripe reads one application of an event may ask for

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt: base, 2x base, 4x base … capped."""
        exponent = max(attempts - 1, 0)
        seconds = min(self.base_delay_s * (2 ** min(exponent, 32)), self.max_delay_s)
        return timedelta(seconds=seconds)

    def budget(self) -> timedelta:
        """From the first failed attempt to the last retry before the event is DEAD."""
        return sum((self.delay(n) for n in range(1, self.max_attempts)), timedelta())


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
        record_id = new_id("whe")

        async def store_and_apply(uow: UnitOfWork) -> EventOutcome | None:
            record = _new_record(record_id, payload, event)
            if not await uow.webhook_events.insert_if_new(record):
                return None
            outcome = await self._apply(uow, record, event)
            await uow.commit()
            return outcome

        try:
            outcome = await self._in_transaction(store_and_apply)
        except Exception as error:  # the handler failed: keep the event, retry it later
            return await self._record_new_failure(_new_record(record_id, payload, event), error)
        if outcome is None:
            self._metrics.outcome(event.type, Delivery.DUPLICATE.value)
            return Delivery.DUPLICATE
        return await self._after_commit(event, outcome)

    async def _in_transaction(self, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        """Run ``work`` in a write unit of work; when its handler asks for a Stripe read
        (NeedsFetch), roll back, do the read with no transaction open, and run it again."""
        scope = FetchScope()
        with scope.active():
            for _ in range(self.policy.max_reads + 1):
                try:
                    async with self._uow_factory() as uow:
                        return await work(uow)
                except NeedsFetch as need:
                    read = need
                await scope.serve(read)
        raise TooManyReads(f"more than {self.policy.max_reads} Stripe reads for one event")

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

        async def apply_if_ours(uow: UnitOfWork) -> EventOutcome | None:
            # Locked, then checked: a replica that claimed the event after our lease ran
            # out has moved next_attempt_at, and we apply nothing.
            record = await uow.webhook_events.get_for_update(claimed.id)
            if record is None or not _still_ours(record, claimed):
                return None
            outcome = await self._apply(uow, record, event)
            await uow.commit()
            return outcome

        try:
            outcome = await self._in_transaction(apply_if_ours)
        except Exception as error:
            return await self._record_stored_failure(claimed, error)
        if outcome is None:
            return Delivery.SKIPPED
        return await self._after_commit(event, outcome)

    async def _record_stored_failure(
        self, claimed: WebhookEvent, error: Exception, *, dead: bool = False
    ) -> Delivery:
        async with self._uow_factory() as uow:
            record = await uow.webhook_events.get_for_update(claimed.id)
            if record is None or not _still_ours(record, claimed):
                return Delivery.SKIPPED
            if dead:
                record.mark_dead(f"{type(error).__name__}: {error}"[:_MAX_ERROR_CHARS])
            else:
                self._fail(record, error)
            await uow.webhook_events.update(record)
            await uow.commit()
        self._report_failure(record, error)
        return Delivery.DEFERRED

    async def replay(self, event_id: str) -> WebhookEvent:
        """Operator replay of a failed, dead, quarantined or ignored event (our ``whe_`` id or
        Stripe's ``evt_`` id): queue it again with a fresh retry budget and apply it now;
        return it as it ended."""
        now = utcnow()
        async with self._uow_factory() as uow:
            record = await uow.webhook_events.get(event_id)
            if record is None:
                record = await uow.webhook_events.find_by_stripe_event_id(event_id)
            if record is None:
                raise NotFound("webhook_event", event_id)
            record = await uow.webhook_events.get_for_update(record.id) or record
            record.requeue_for_replay(now)
            record.attempts = 0
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

    async def requeue_transient_dead(
        self, *, created_after: datetime, limit: int = 1000
    ) -> tuple[int, list[WebhookEvent]]:
        """Give DEAD events that died of a transient error (TRANSIENT_ERRORS) and were created
        at Stripe after ``created_after`` a fresh retry budget; return how many were queued
        and the events left DEAD."""
        requeued, left = 0, []
        for dead in await self.list_events((WebhookEventState.DEAD,), limit=limit):
            if not (died_of_transient_error(dead) and dead.created > created_after):
                left.append(dead)
                continue
            now = utcnow()
            async with self._uow_factory() as uow:
                record = await uow.webhook_events.get_for_update(dead.id)
                if record is None or record.state is not WebhookEventState.DEAD:
                    continue
                record.requeue_for_replay(now)
                record.attempts = 0
                await uow.webhook_events.update(record)
                await uow.commit()
            log.warning(
                "dead webhook event queued again: it died of a transient error",
                extra={"stripe_event_id": record.stripe_event_id, "event_type": record.type},
            )
            requeued += 1
        return requeued, left

    async def requeue_ignored(self, event_types: Collection[str]) -> int:
        """Queue IGNORED events of ``event_types`` again, e.g. once a capability that only
        stored its events gets real handlers; the retrier applies them."""
        wanted = frozenset(event_types)
        requeued = 0
        for stored in await self.list_events((WebhookEventState.IGNORED,)):
            if stored.type not in wanted:
                continue
            async with self._uow_factory() as uow:
                record = await uow.webhook_events.get_for_update(stored.id)
                if record is None or record.state is not WebhookEventState.IGNORED:
                    continue
                record.requeue_for_replay(utcnow())
                record.attempts = 0
                await uow.webhook_events.update(record)
                await uow.commit()
            requeued += 1
        return requeued

    async def backlog(self) -> dict[WebhookEventState, tuple[int, float]]:
        """Count FAILED and DEAD events (and the age of the oldest) and publish the gauges."""
        now = utcnow()
        async with self._uow_factory(read_only=True) as uow:
            stats = await uow.webhook_events.backlog(_BACKLOG_STATES)
        found: dict[WebhookEventState, tuple[int, float]] = {}
        for state in _BACKLOG_STATES:
            count, oldest = stats.get(state, (0, None))
            age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
            found[state] = (count, age)
            self._metrics.backlog(state.value, count, age)
        return found

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


def died_of_transient_error(record: WebhookEvent) -> bool:
    """The event's last error is one that goes away by itself (TRANSIENT_ERRORS)."""
    return (record.last_error or "").startswith(_TRANSIENT_PREFIXES)


def _still_ours(record: WebhookEvent | None, claimed: WebhookEvent) -> bool:
    """The event is still waiting and still under our lease (no other replica took it over)."""
    return (
        record is not None
        and record.state in _DUE
        and record.next_attempt_at == claimed.next_attempt_at
    )

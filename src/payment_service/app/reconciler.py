"""The reconciler: brings stored objects in line with Stripe when a request or webhook did not.

One pass, under a lock so only one replica runs it (a PostgreSQL advisory lock;
no lock on SQLite):

1. finish PENDING payments left by a crash or an outage (``Payments.finish_pending``:
   find the PaymentIntent by our id, or repeat the create with the same key);
2. refresh payments stuck in a non-final state, each on a backoff schedule
   (the longer it has been stuck, the less often it is read);
3. read Stripe's ``/v1/events`` forward from the newest event seen and feed them
   through the webhook store-and-apply path, so an event whose delivery failed for
   good is applied once and a delivered one is a no-op. The cursor (that event's
   id and time) is stored after every page, so a backlog of any size is worked off
   over a few passes and never stops the catch-up;
4. put DEAD events that died of a transient error (Stripe away, an object not
   stored yet) back in the retry queue, and report the ones left for an operator;
5. any extra repair tasks other capabilities contribute (e.g. PENDING refunds).

Each task reports what it repaired and what is still unresolved; the metrics
show objects repaired, objects unresolved and the oldest unresolved age.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from payment_service.app.cache import Cache
from payment_service.app.payment_sync import api_read_time, apply_payment_intent, integrity_mismatch
from payment_service.app.payments import cache_key
from payment_service.app.ports import UnitOfWorkFactory
from payment_service.app.processor import PaymentProcessor
from payment_service.app.webhooks import Delivery, Webhooks
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Payment
from payment_service.domain.errors import DomainError, InvalidArgument, NotFound
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import PaymentState

log = logging.getLogger(__name__)

EVENTS_CURSOR_KEY = "stripe_events.newest_seen"
_PAGE = 100  # events per list call (Stripe's maximum)
# Payments in these states wait on Stripe (or on us), not on the customer.
_UNRESOLVED_STATES = frozenset({PaymentState.PENDING, PaymentState.PROCESSING})


@dataclass(frozen=True, slots=True)
class RepairReport:
    task: str
    repaired: int = 0
    unresolved: int = 0
    oldest_unresolved_age_s: float = 0.0
    errors: int = 0


RepairTask = Callable[[], Awaitable[RepairReport]]


class ReconcileLock(Protocol):
    def hold(self) -> AbstractAsyncContextManager[bool]:
        """Enter to try the lock: True when this replica holds it until the block ends."""
        ...


class ReconcilerMetricsSink(Protocol):
    def skipped(self) -> None: ...

    def observe(self, reports: Sequence[RepairReport]) -> None: ...


class PendingPayments(Protocol):
    async def finish_pending(self, payment_id: str) -> Payment: ...


@dataclass(frozen=True, slots=True)
class ReconcilerRules:
    pending_grace_s: float = 5.0  # younger PENDING rows are most likely mid-request
    stuck_after_s: float = 300.0
    max_refresh_interval_s: float = 6 * 3600.0
    event_lookback_s: float = 3 * 86400.0  # first pass: Stripe retries deliveries for 3 days
    # Events are read with created > (newest seen - this), so the newest seen is in the list
    # the forward walk starts from.
    event_overlap_s: float = 60.0
    batch_size: int = 100
    max_event_pages: int = 1000  # per pass; the rest waits for the next pass
    # DEAD events that died of a transient error and are younger than this get another
    # retry budget; older ones are left for an operator (and reported as unresolved).
    dead_requeue_window_s: float = 7 * 86400.0


@dataclass
class _Tally:
    task: str
    now: datetime
    repaired: int = 0
    errors: int = 0
    unresolved_since: list[datetime] = field(default_factory=list)

    def unresolved(self, since: datetime) -> None:
        self.unresolved_since.append(since)

    def report(self) -> RepairReport:
        oldest = min(self.unresolved_since, default=self.now)
        return RepairReport(
            task=self.task,
            repaired=self.repaired,
            unresolved=len(self.unresolved_since),
            oldest_unresolved_age_s=max((self.now - oldest).total_seconds(), 0.0),
            errors=self.errors,
        )


class Reconciler:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        payments: PendingPayments,
        webhooks: Webhooks,
        cache: Cache,
        lock: ReconcileLock,
        metrics: ReconcilerMetricsSink,
        rules: ReconcilerRules | None = None,
        extra_tasks: Sequence[RepairTask] = (),
    ) -> None:
        self._uow_factory = uow_factory
        self._processor = processor
        self._payments = payments
        self._webhooks = webhooks
        self._cache = cache
        self._lock = lock
        self._metrics = metrics
        self._rules = rules or ReconcilerRules()
        self._tasks: tuple[RepairTask, ...] = (
            self.finish_pending_payments,
            self.refresh_stuck_payments,
            self.catch_up_events,
            self.requeue_dead_events,
            *extra_tasks,
        )

    async def run_once(self) -> list[RepairReport] | None:
        """One pass; None when another replica holds the lock."""
        async with self._lock.hold() as acquired:
            if not acquired:
                self._metrics.skipped()
                return None
            reports = [await self._run_task(task) for task in self._tasks]
        self._metrics.observe(reports)
        for report in reports:
            if report.repaired or report.unresolved or report.errors:
                log.info(
                    "reconciler task done",
                    extra={
                        "task": report.task,
                        "repaired": report.repaired,
                        "unresolved": report.unresolved,
                        "oldest_unresolved_age_s": report.oldest_unresolved_age_s,
                        "errors": report.errors,
                    },
                )
        return reports

    async def run_forever(self, interval_s: float, stopping: asyncio.Event) -> None:
        """The periodic task: a pass every ``interval_s`` until ``stopping`` is set (0 disables it)."""
        if interval_s <= 0:
            return
        while not stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("reconciler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)

    async def _run_task(self, task: RepairTask) -> RepairReport:
        try:
            return await task()
        except Exception:
            name = getattr(task, "__name__", type(task).__name__)
            log.exception("reconciler task failed", extra={"task": name})
            return RepairReport(task=name, errors=1)

    # --- 1. PENDING payments -----------------------------------------------------------

    async def finish_pending_payments(self) -> RepairReport:
        tally = _Tally("finish_pending_payments", utcnow())
        older_than = tally.now - timedelta(seconds=self._rules.pending_grace_s)
        async with self._uow_factory(read_only=True) as uow:
            pending = await uow.payments.list_pending(older_than, limit=self._rules.batch_size)
        for payment in pending:
            try:
                finished = await self._payments.finish_pending(payment.id)
            except DomainError as error:
                log.warning(
                    "could not finish a pending payment",
                    extra={"payment_id": payment.id, "reason": error.reason},
                )
                tally.errors += 1
                tally.unresolved(payment.create_time)
                continue
            if finished.state is PaymentState.PENDING:
                tally.unresolved(payment.create_time)
            else:
                tally.repaired += 1
        return tally.report()

    # --- 2. payments stuck in non-final states ------------------------------------------

    def _refresh_due(self, payment: Payment, now: datetime) -> bool:
        """Backoff: a payment stuck for a long time is read less often (a quarter of its age,
        between ``stuck_after_s`` and ``max_refresh_interval_s``)."""
        age = (now - payment.create_time).total_seconds()
        interval = min(max(age / 4, self._rules.stuck_after_s), self._rules.max_refresh_interval_s)
        last = payment.synced_at or payment.update_time
        return (now - last).total_seconds() >= interval

    async def refresh_stuck_payments(self) -> RepairReport:
        tally = _Tally("refresh_stuck_payments", utcnow())
        older_than = tally.now - timedelta(seconds=self._rules.stuck_after_s)
        async with self._uow_factory(read_only=True) as uow:
            stale = await uow.payments.list_stale_nonfinal(
                older_than, limit=self._rules.batch_size * 5
            )
        for payment in stale:
            state = payment.state
            if self._refresh_due(payment, tally.now):
                try:
                    state = await self._refresh(payment)
                except DomainError as error:
                    log.warning(
                        "could not refresh a stuck payment",
                        extra={"payment_id": payment.id, "reason": error.reason},
                    )
                    tally.errors += 1
                else:
                    tally.repaired += int(state is not payment.state)
            if state in _UNRESOLVED_STATES:
                tally.unresolved(payment.create_time)
        return tally.report()

    async def _refresh(self, payment: Payment) -> PaymentState:
        if payment.stripe_payment_intent_id is None:
            return payment.state
        intent = await self._processor.retrieve_payment_intent(payment.stripe_payment_intent_id)
        async with self._uow_factory() as uow:
            stored = await uow.payments.get_for_update(payment.id)
            if stored is None:
                return payment.state
            mismatch = integrity_mismatch(stored, intent)
            if mismatch is None:
                apply_payment_intent(stored, intent, api_read_time())
            else:
                log.warning(
                    "stored payment contradicts its PaymentIntent; not refreshed",
                    extra={"payment_id": stored.id, "detail": mismatch},
                )
            stored.synced_at = utcnow()  # read now, so the backoff counts from here
            await uow.payments.update(stored)
            await uow.commit()
        await self._cache.delete(cache_key(stored.id))
        return stored.state

    # --- 3. events whose delivery failed ------------------------------------------------

    async def catch_up_events(self) -> RepairReport:
        """Apply the events Stripe has that we may have missed, oldest first, walking forward
        from the newest one seen and storing the cursor after every page."""
        tally = _Tally("catch_up_events", utcnow())
        async with self._uow_factory(read_only=True) as uow:
            cursor = _read_cursor(await uow.reconciler_state.get(EVENTS_CURSOR_KEY))
        if cursor is None:
            since = int(tally.now.timestamp() - self._rules.event_lookback_s)
            anchor = None
        else:
            since = int(cursor[0] - self._rules.event_overlap_s)
            anchor = cursor[1]
        pages = 0
        if anchor is not None:
            try:
                first = await self._processor.list_events(
                    created_after=since, ending_before=anchor, limit=_PAGE
                )
            except (NotFound, InvalidArgument):
                log.warning(
                    "the newest event seen is gone at Stripe; reading events by time",
                    extra={"stripe_event_id": anchor},
                )
                anchor = None
        if anchor is None:
            start = await self._oldest_page(since, tally)
            if not start:
                return tally.report()
            await self._apply_page(start, tally)
            anchor = start[-1].stripe_id
            pages += 1
            first = await self._processor.list_events(
                created_after=since, ending_before=anchor, limit=_PAGE
            )
        page = first
        while page.events:
            await self._apply_page(list(reversed(page.events)), tally)
            anchor = page.events[0].stripe_id
            pages += 1
            if not page.has_more:
                break
            if pages >= self._rules.max_event_pages:
                log.info(
                    "more Stripe events to catch up; the next pass goes on",
                    extra={"pages": pages, "stripe_event_id": anchor},
                )
                break
            page = await self._processor.list_events(
                created_after=since, ending_before=anchor, limit=_PAGE
            )
        return tally.report()

    async def _oldest_page(self, since: int, tally: _Tally) -> list[RemoteEvent]:
        """The oldest page of events created after ``since``, oldest first: walk back from
        the newest (at most ``max_event_pages`` pages)."""
        page = await self._processor.list_events(created_after=since, limit=_PAGE)
        walked = 1
        while page.has_more and page.events and walked < self._rules.max_event_pages:
            older = await self._processor.list_events(
                created_after=since, starting_after=page.events[-1].stripe_id, limit=_PAGE
            )
            if not older.events:
                break
            page, walked = older, walked + 1
        if page.has_more:
            log.error(
                "too many Stripe events to find the oldest; older ones are not caught up",
                extra={"created_after": since, "pages": walked},
            )
            tally.errors += 1
        return list(reversed(page.events))

    async def _apply_page(self, oldest_first: Sequence[RemoteEvent], tally: _Tally) -> None:
        for event in oldest_first:
            delivery = await self._webhooks.ingest(event)
            if delivery is not Delivery.DUPLICATE:
                tally.repaired += 1
        newest = oldest_first[-1]
        value = json.dumps({"created": newest.created, "id": newest.stripe_id})
        async with self._uow_factory() as uow:
            await uow.reconciler_state.set(EVENTS_CURSOR_KEY, value)
            await uow.commit()

    # --- 4. events that died of a transient error ------------------------------------

    async def requeue_dead_events(self) -> RepairReport:
        """DEAD events that died of a transient error go back to the retrier with a fresh
        budget; the ones left DEAD are reported unresolved. Refreshes the backlog gauges."""
        tally = _Tally("requeue_dead_events", utcnow())
        window = timedelta(seconds=self._rules.dead_requeue_window_s)
        requeued, left = await self._webhooks.requeue_transient_dead(
            created_after=tally.now - window
        )
        tally.repaired = requeued
        for record in left:
            tally.unresolved(record.receive_time)
        await self._webhooks.backlog()
        return tally.report()


def _read_cursor(value: str | None) -> tuple[int, str | None] | None:
    """(created, event id) of the newest event seen; the id may be missing."""
    if value is None:
        return None
    try:
        stored = json.loads(value)
        created, event_id = stored["created"], stored.get("id")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(created, int):
        return None
    return created, event_id if isinstance(event_id, str) and event_id else None

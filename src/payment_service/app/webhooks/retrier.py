"""The appliers: stored events that are due (new, failed, replayed) applied.

One claim path for every due event: ``claim_due`` (FOR UPDATE SKIP LOCKED on
PostgreSQL) takes them oldest first, per object in order (an event waits while an
earlier event of its object is RECEIVED), and leases them by moving
``next_attempt_at`` forward, so only one applier of one replica works on an event at
a time; after ``max_attempts`` an event is DEAD. A claimed batch is applied in one
transaction that locks its rows and checks each lease is still the one it claimed
(an applier that outlived its lease applies nothing); when the batch fails, its
events are applied one at a time, each in its own transaction, so one bad event
holds up no other. Several appliers run per process (``run_appliers``), woken when
the endpoint stored events (``wakeup``) and polling for those other replicas stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from opentelemetry import trace

from payment_service.app.common.trace_links import links_to
from payment_service.app.ports.events import EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.ports.webhooks import MalformedEvent
from payment_service.app.webhooks.applier import MAX_ERROR_CHARS, EventApplier, Settled
from payment_service.app.webhooks.intake import WebhookIntake
from payment_service.app.webhooks.policy import Delivery
from payment_service.app.webhooks.wakeup import Wakeup
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.states import WebhookEventState

log = logging.getLogger(__name__)

_DUE = frozenset({WebhookEventState.RECEIVED, WebhookEventState.FAILED})

_TRACER = trace.get_tracer("payment_service.webhooks")

# While deliveries are arriving (``Wakeup.ingest_busy``) the appliers take only events
# stored at least DEFER_S ago, one applier at a time, and rest BUSY_REST_RATIO times as
# long as their pass took (at least BUSY_PAUSE_S) before the next: on one core they take
# about a quarter of it, the request path goes first, and the backlog is applied at full
# speed once the deliveries stop.
DEFER_S = 1.0
BUSY_PAUSE_S = 0.1
BUSY_REST_RATIO = 3.0


@dataclass
class Retrier:
    applier: EventApplier
    intake: WebhookIntake
    backlog: Callable[[], Awaitable[object]]
    wakeup: Wakeup = field(default_factory=Wakeup)
    _busy_turn: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def retry_due(self, limit: int | None = None, *, defer_s: float = 0.0) -> int:
        """Apply up to ``limit`` due events (new, failed or replayed; with ``defer_s``, only
        those due that long ago); return how many."""
        claimed = await self.claim(limit or self.applier.policy.batch_size, defer_s)
        if len(claimed) > 1 and await self._apply_batch(claimed):
            return len(claimed)
        for n, record in enumerate(claimed):
            try:
                await self.attempt(record)
            except Exception:
                await self._release(claimed[n + 1 :])
                raise
        return len(claimed)

    async def _release(self, unattempted: list[WebhookEvent]) -> None:
        """A pass that failed (the database away) hands back the events it did not get to,
        so they wait for the next pass rather than for the end of their lease. Safe if the
        lease ran out meanwhile: another applier's attempt then sees a lease not its own
        and applies nothing; the event is simply due again."""
        if not unattempted:
            return
        with contextlib.suppress(Exception):  # best effort: the lease ends anyway
            async with self.applier.uow_factory() as uow:
                await uow.webhook_events.lease([r.id for r in unattempted], utcnow())
                await uow.commit()

    async def run_retrier(self, poll_s: float, stopping: asyncio.Event) -> None:
        """One applier alone (``run_appliers`` with one worker)."""
        await self.run_appliers(1, poll_s, stopping)

    async def run_appliers(
        self,
        workers: int,
        poll_s: float,
        stopping: asyncio.Event,
        gauges_s: float | None = None,
    ) -> None:
        """``workers`` appliers until ``stopping`` is set, each passing again when woken or
        after ``poll_s``; the first refreshes the backlog gauges about once per
        ``gauges_s`` (default ``poll_s``)."""
        every = poll_s if gauges_s is None else gauges_s

        async def stop_all() -> None:
            await stopping.wait()
            self.wakeup.notify_all()

        stopper = asyncio.get_running_loop().create_task(stop_all())
        try:
            await asyncio.gather(
                *(self._run_applier(n == 0, poll_s, every, stopping) for n in range(workers))
            )
        finally:
            stopper.cancel()

    async def _run_applier(
        self, gauges: bool, poll_s: float, gauges_s: float, stopping: asyncio.Event
    ) -> None:
        gauges_due = 0.0
        full = self.applier.policy.batch_size
        while not stopping.is_set():
            busy = self.wakeup.ingest_busy()
            done = await (self._pass_in_turn() if busy else self._pass())
            if gauges and time.monotonic() >= gauges_due:
                gauges_due = time.monotonic() + gauges_s
                try:
                    await self.backlog()
                except Exception:
                    log.exception("counting waiting webhook events failed")
            if busy:
                continue  # the turn paced this pass
            if done >= full:
                self.wakeup.notify()  # more may be due: let an idle applier help
            elif not stopping.is_set() and not self.wakeup.ingest_busy():
                await self.wakeup.wait(poll_s)

    async def _pass(self, defer_s: float = 0.0) -> int:
        try:
            return await self.retry_due(defer_s=defer_s)
        except Exception:
            log.exception("webhook applier pass failed")
            return 0

    async def _pass_in_turn(self) -> int:
        """While the ingest is busy: one applier at a time applies the deferred events,
        then rests (holding the turn) in proportion to its pass."""
        async with self._busy_turn:
            if not self.wakeup.ingest_busy():
                return 0
            began = time.monotonic()
            done = await self._pass(DEFER_S)
            took = time.monotonic() - began
            await asyncio.sleep(max(BUSY_PAUSE_S, took * BUSY_REST_RATIO))
            return done

    async def claim(self, limit: int, defer_s: float = 0.0) -> list[WebhookEvent]:
        now = utcnow()
        lease_until = now + timedelta(seconds=self.applier.policy.lease_s)
        due_by = now - timedelta(seconds=defer_s)
        async with self.applier.uow_factory() as uow:
            due = await uow.webhook_events.claim_due(due_by, limit)
            if due:
                await uow.webhook_events.lease([record.id for record in due], lease_until)
                await uow.commit()
            for record in due:
                record.next_attempt_at = lease_until
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

    async def _apply_batch(self, claimed: list[WebhookEvent]) -> bool:
        """Apply the claimed events in one transaction, per object in Stripe's order;
        False (nothing applied) when the batch failed: apply them one at a time then."""
        try:
            events = {record.id: self.intake.decode(record.payload) for record in claimed}
        except MalformedEvent:
            return False
        ordered = sorted(claimed, key=lambda record: (record.created, record.id))

        async def apply_all(uow: UnitOfWork) -> list[tuple[WebhookEvent, EventOutcome]]:
            locked = {r.id: r for r in await uow.webhook_events.get_many_for_update(events)}
            done = []
            settled = Settled()
            for record in ordered:
                current = locked.get(record.id)
                if current is not None and _still_ours(current, record):
                    outcome = await self.applier.apply(uow, current, events[record.id], settled)
                    done.append((record, outcome))
            await settled.flush(uow)
            await uow.commit()
            return done

        with _TRACER.start_as_current_span(
            "webhook apply batch",
            attributes={"webhook.batch": len(claimed)},
            links=[link for record in claimed for link in links_to(record.trace_parent)],
        ):
            try:
                applied = await self.applier.in_transaction(apply_all)
            except Exception as error:
                log.info(
                    "webhook batch failed; applying its events one at a time",
                    extra={"batch": len(claimed), "error": type(error).__name__},
                )
                return False
        now = utcnow()
        for record, outcome in applied:
            self.applier.metrics.settled_after((now - record.receive_time).total_seconds())
            await self.applier.after_commit(events[record.id], outcome)
        return True

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

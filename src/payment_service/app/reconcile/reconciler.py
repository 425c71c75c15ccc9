"""The reconciler: brings stored objects in line with Stripe when a request or webhook did not.

One pass, under a lock so only one replica runs it (a PostgreSQL advisory lock;
no lock on SQLite):

1. finish PENDING payments left by a crash or an outage (``Payments.finish_pending``:
   find the PaymentIntent by our id, or repeat the create with the same key);
2. refresh payments stuck in a non-final state, each on a backoff schedule
   (the longer it has been stuck, the less often it is read);
3. read Stripe's ``/v1/events`` forward from the newest event seen (``catch_up``);
4. put DEAD events that died of a transient error (Stripe away, an object not
   stored yet) back in the retry queue, and report the ones left for an operator;
5. any extra repair tasks other capabilities contribute (e.g. PENDING refunds).

Each task reports what it repaired and what is still unresolved; the metrics
show objects repaired, objects unresolved and the oldest unresolved age.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from opentelemetry import trace

from payment_service.app.common.audit_context import acting_as
from payment_service.app.common.repair import RepairTally
from payment_service.app.common.trace_links import links_to
from payment_service.app.payments.service import Payments
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.reconcile import (
    ReconcileLock,
    ReconcilerMetricsSink,
    RepairReport,
    RepairTask,
)
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.reconcile.catch_up import EventCatchUp
from payment_service.app.reconcile.rules import ReconcilerRules
from payment_service.app.webhooks.service import Webhooks
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Payment
from payment_service.domain.errors import DomainError
from payment_service.domain.states import PaymentState

log = logging.getLogger(__name__)

RECONCILER_ACTOR = "reconciler"
_TRACER = trace.get_tracer("payment_service.reconcile")
# Payments in these states wait on Stripe (or on us), not on the customer.
_UNRESOLVED_STATES = frozenset({PaymentState.PENDING, PaymentState.PROCESSING})


class Reconciler:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        payments: Payments,
        webhooks: Webhooks,
        lock: ReconcileLock,
        metrics: ReconcilerMetricsSink,
        rules: ReconcilerRules | None = None,
        extra_tasks: Sequence[RepairTask] = (),
    ) -> None:
        self._uow_factory = uow_factory
        self._payments = payments
        self._webhooks = webhooks
        self._lock = lock
        self._metrics = metrics
        self._rules = rules or ReconcilerRules()
        self._catch_up = EventCatchUp(uow_factory, processor, webhooks, self._rules)
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
            reports = [await self.run_task(task) for task in self._tasks]
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

    async def run_task(self, task: RepairTask) -> RepairReport:
        """Run one task; every audit row it writes says ``via: reconciler.<task>``."""
        name = getattr(task, "__name__", type(task).__name__)
        try:
            with (
                _TRACER.start_as_current_span(f"reconcile {name}"),
                acting_as(RECONCILER_ACTOR, f"reconciler.{name}"),
            ):
                return await task()
        except Exception:
            log.exception("reconciler task failed", extra={"task": name})
            return RepairReport(task=name, errors=1)

    # --- 1. PENDING payments -----------------------------------------------------------

    async def finish_pending_payments(self) -> RepairReport:
        tally = RepairTally("finish_pending_payments", utcnow())
        older_than = tally.now - timedelta(seconds=self._rules.pending_grace_s)
        async with self._uow_factory(read_only=True) as uow:
            pending = await uow.payments.list_pending(older_than, limit=self._rules.batch_size)
        for payment in pending:
            try:
                with _TRACER.start_as_current_span(
                    "finish pending payment",
                    attributes={"payment_id": payment.id},
                    links=links_to(payment.trace_parent),  # the CreatePayment that left it
                ):
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
        return payment.refresh_due(
            now, min_s=self._rules.stuck_after_s, max_s=self._rules.max_refresh_interval_s
        )

    async def refresh_stuck_payments(self) -> RepairReport:
        tally = RepairTally("refresh_stuck_payments", utcnow())
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
        return (await self._payments.refresher.refresh(payment)).state

    async def catch_up_events(self) -> RepairReport:
        """3. the events Stripe has that we may have missed (``catch_up``)."""
        return await self._catch_up.run()

    # --- 4. events that died of a transient error ------------------------------------

    async def requeue_dead_events(self) -> RepairReport:
        """DEAD events that died of a transient error go back to the retrier with a fresh
        budget; the ones left DEAD are reported unresolved. Refreshes the backlog gauges."""
        tally = RepairTally("requeue_dead_events", utcnow())
        window = timedelta(seconds=self._rules.dead_requeue_window_s)
        requeued, left = await self._webhooks.requeue_transient_dead(
            created_after=tally.now - window
        )
        tally.repaired = requeued
        for record in left:
            tally.unresolved(record.receive_time)
        await self._webhooks.backlog()
        return tally.report()

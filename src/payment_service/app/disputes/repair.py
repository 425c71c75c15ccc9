"""The reconciler's part of disputes: open disputes not read lately are re-read from
Stripe (a lost charge.dispute.* event), each on its backoff; and the gauges of open
disputes and of evidence due soon are read from the database on every pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from payment_service.app.common.audit import audit_refresh_move
from payment_service.app.common.repair import RepairTally
from payment_service.app.common.repair_pass import repair_each
from payment_service.app.disputes.rules import DisputeRules
from payment_service.app.disputes.sync import apply_dispute
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.disputes import DisputeMetricsSink, DisputeProcessor
from payment_service.app.ports.reconcile import RepairReport, RepairTask
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.domain.clock import api_read_time, utcnow
from payment_service.domain.disputes import OPEN_DISPUTE_STATES
from payment_service.domain.entities import Dispute
from payment_service.domain.errors import found


@dataclass
class DisputeRepair:
    uow_factory: UnitOfWorkFactory
    processor: DisputeProcessor
    cache: Cache
    metrics: DisputeMetricsSink
    rules: DisputeRules

    def tasks(self) -> tuple[RepairTask, ...]:
        return (self.refresh_open_disputes,)

    async def refresh(self, dispute: Dispute) -> Dispute:
        """Read the dispute now and store what Stripe says (audited when it moved)."""
        remote = await self.processor.retrieve_dispute(dispute.stripe_dispute_id)
        async with self.uow_factory() as uow:
            synced = await apply_dispute(uow, remote, api_read_time(), None)
            stored = found(synced.dispute, "dispute", dispute.id)
            stored.synced_at = utcnow()
            await uow.disputes.update(stored)
            await audit_refresh_move(
                uow, "disputes.refresh", ("dispute", stored.id), dispute.state, stored.state
            )
            await uow.commit()
        if synced.payment_cache_key:
            await self.cache.delete(synced.payment_cache_key)
        return stored

    async def refresh_open_disputes(self) -> RepairReport:
        tally = RepairTally("refresh_open_disputes", utcnow())
        older_than = tally.now - timedelta(seconds=self.rules.stuck_after_s)
        async with self.uow_factory(read_only=True) as uow:
            stale = await uow.disputes.list_to_refresh(
                OPEN_DISPUTE_STATES, older_than, limit=self.rules.batch_size
            )
        due = [
            d
            for d in stale
            if d.refresh_due(
                tally.now, min_s=self.rules.stuck_after_s, max_s=self.rules.max_refresh_interval_s
            )
        ]
        await repair_each(
            tally,
            due,
            self.refresh,
            lambda d: False,
            failure="dispute refresh failed",
            id_key="dispute_id",
        )
        await self.observe()
        return tally.report()

    async def observe(self) -> None:
        """Set the gauges: open disputes, and those with evidence due within ``due_soon_s``."""
        due_before = utcnow() + timedelta(seconds=self.rules.due_soon_s)
        async with self.uow_factory(read_only=True) as uow:
            open_count, due_soon = await uow.disputes.count_open(OPEN_DISPUTE_STATES, due_before)
        self.metrics.observe(open_count, due_soon)

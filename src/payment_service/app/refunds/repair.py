"""The reconciler's part of refunds: settle PENDING and REQUIRES_ACTION refunds.

PENDING and not yet known at Stripe: adopt the Stripe refund an earlier attempt
made, or create it (same idempotency key) -- exactly one Stripe refund. Known at
Stripe but pending or requiring action there: read it again on a backoff. Rows
younger than ``RefundRules.pending_grace_s`` are left to the request sending them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payment_service.app.common.repair import RepairTally
from payment_service.app.common.repair_pass import repair_each
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.reconcile import RepairReport
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.refunds.rules import IN_FLIGHT, RefundRules
from payment_service.app.refunds.sender import RefundSender
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Refund
from payment_service.domain.errors import found
from payment_service.domain.states import RefundState

REPAIR_TASK = "finish_pending_refunds"


@dataclass
class RefundRepair:
    uow_factory: UnitOfWorkFactory
    processor: PaymentProcessor
    sender: RefundSender
    rules: RefundRules

    async def finish_pending(self, refund_id: str) -> Refund:
        """Settle one unsettled refund; raise Unavailable if Stripe is away."""
        async with self.uow_factory(read_only=True) as uow:
            refund = found(await uow.refunds.get(refund_id), "refund", refund_id)
        if refund.state not in IN_FLIGHT:
            return refund
        if refund.stripe_refund_id is None:
            if refund.state is not RefundState.PENDING or self.sender.lease.held(refund):
                return refund  # nothing to send, or a request is talking to Stripe for it
            return await self.sender.send(refund, first_attempt=False)
        remote = await self.processor.retrieve_refund(refund.stripe_refund_id)
        return await self.sender.store_remote(refund, remote, None)

    def _due(self, refund: Refund, now: datetime) -> bool:
        """Not yet sent: always due. Known at Stripe: on the backoff schedule."""
        if refund.stripe_refund_id is None:
            return True
        return refund.refresh_due(
            now, min_s=self.rules.refresh_min_s, max_s=self.rules.refresh_max_s
        )

    async def repair_pending(self) -> RepairReport:
        """One pass over unsettled refunds older than the grace period; stops at the first
        Unavailable (Stripe is away; the next pass tries again)."""
        tally = RepairTally(REPAIR_TASK, utcnow())
        older_than = tally.now - timedelta(seconds=self.rules.pending_grace_s)
        async with self.uow_factory(read_only=True) as uow:
            unsettled = await uow.refunds.list_unsettled(older_than, limit=self.rules.repair_batch)
        due = [r for r in unsettled if self._due(r, tally.now)]
        for waiting in unsettled:
            if not self._due(waiting, tally.now):
                tally.unresolved(waiting.create_time)
        await repair_each(
            tally,
            due,
            lambda refund: self.finish_pending(refund.id),
            lambda finished: finished.state in IN_FLIGHT,
            failure="could not finish a pending refund",
            id_key="refund_id",
        )
        return tally.report()

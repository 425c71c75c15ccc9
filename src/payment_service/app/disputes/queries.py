"""GetDispute and ListDisputes (from the stored rows: events and the reconciler keep them
current)."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.listing import (
    check_payment_or_account,
    get_visible,
    require_visible_payment,
)
from payment_service.app.disputes.rules import ListDisputes
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Dispute
from payment_service.domain.pagination import Page


@dataclass
class DisputeQueries:
    uow_factory: UnitOfWorkFactory

    async def get(self, caller: Caller, dispute_id: str) -> Dispute:
        return await get_visible(
            self.uow_factory, caller, lambda uow: uow.disputes, "dispute", "dsp", dispute_id
        )

    async def list(self, caller: Caller, query: ListDisputes) -> Page[Dispute]:
        check_payment_or_account(caller, query.payment_id, query.account_id)
        async with self.uow_factory(read_only=True) as uow:
            if query.payment_id:
                await require_visible_payment(uow, caller, query.payment_id)
            return await uow.disputes.list_disputes(
                page=query.page,
                account_id=query.account_id or None,
                payment_id=query.payment_id or None,
                states=query.states,
            )

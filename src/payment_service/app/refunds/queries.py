"""GetRefund and ListRefunds (by payment or by account)."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.listing import (
    check_payment_or_account,
    get_visible,
    require_visible_payment,
)
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.refunds.rules import ListRefunds
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.pagination import Page


@dataclass
class RefundQueries:
    uow_factory: UnitOfWorkFactory

    async def get(self, caller: Caller, refund_id: str) -> Refund:
        return await get_visible(
            self.uow_factory, caller, lambda uow: uow.refunds, "refund", "rfd", refund_id
        )

    async def list(self, caller: Caller, query: ListRefunds) -> Page[Refund]:
        check_payment_or_account(caller, query.payment_id, query.account_id)
        if query.account_id:
            async with self.uow_factory(read_only=True) as uow:
                return await uow.refunds.list_for_account(query.account_id, page=query.page)
        async with self.uow_factory(read_only=True) as uow:
            await require_visible_payment(uow, caller, query.payment_id)
            return await uow.refunds.list_for_payment(query.payment_id, page=query.page)

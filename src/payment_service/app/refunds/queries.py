"""GetRefund and ListRefunds (by payment or by account)."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.validation import Violations
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.refunds.rules import ListRefunds
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.errors import NotFound
from payment_service.domain.pagination import Page


@dataclass
class RefundQueries:
    uow_factory: UnitOfWorkFactory

    async def get(self, caller: Caller, refund_id: str) -> Refund:
        check = Violations()
        check.object_id(refund_id, "rfd")
        check.raise_if_any()
        async with self.uow_factory(read_only=True) as uow:
            refund = await uow.refunds.get(refund_id)
        if refund is None or not caller.may_access(refund.account_id):
            raise NotFound("refund", refund_id)
        return refund

    async def list(self, caller: Caller, query: ListRefunds) -> Page[Refund]:
        check = Violations()
        if bool(query.payment_id) == bool(query.account_id):
            message = "set exactly one of payment_id and account_id"
            check.add("payment_id", message)
            check.add("account_id", message)
        elif query.payment_id:
            check.object_id(query.payment_id, "pay", "payment_id")
        else:
            check.account_id(query.account_id)
        check.raise_if_any()
        if query.account_id:
            caller.require_account(query.account_id)
            async with self.uow_factory(read_only=True) as uow:
                return await uow.refunds.list_for_account(query.account_id, page=query.page)
        async with self.uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(query.payment_id)
            if payment is None or not caller.may_access(payment.account_id):
                raise NotFound("payment", query.payment_id)
            return await uow.refunds.list_for_payment(query.payment_id, page=query.page)

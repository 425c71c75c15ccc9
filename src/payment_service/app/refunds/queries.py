"""GetRefund and ListRefunds (by payment or by account)."""

from __future__ import annotations

from payment_service.app.common.listing import PaymentOrAccountQueries
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.app.refunds.rules import ListRefunds
from payment_service.domain.entities import Refund
from payment_service.domain.pagination import Page

RefundQueries = PaymentOrAccountQueries[Refund, ListRefunds]


def refund_queries(uow_factory: UnitOfWorkFactory) -> RefundQueries:
    return RefundQueries(uow_factory, lambda uow: uow.refunds, "refund", "rfd", _listed)


async def _listed(uow: UnitOfWork, query: ListRefunds) -> Page[Refund]:
    if query.account_id:
        return await uow.refunds.list_for_account(query.account_id, page=query.page)
    return await uow.refunds.list_for_payment(query.payment_id, page=query.page)

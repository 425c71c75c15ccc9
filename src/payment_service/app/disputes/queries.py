"""GetDispute and ListDisputes (from the stored rows: events and the reconciler keep them
current)."""

from __future__ import annotations

from payment_service.app.common.listing import PaymentOrAccountQueries
from payment_service.app.disputes.rules import ListDisputes
from payment_service.app.ports.list_filters import DisputeFilter
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.entities import Dispute
from payment_service.domain.pagination import Page

DisputeQueries = PaymentOrAccountQueries[Dispute, ListDisputes]


def dispute_queries(uow_factory: UnitOfWorkFactory) -> DisputeQueries:
    return DisputeQueries(uow_factory, lambda uow: uow.disputes, "dispute", "dsp", _listed)


async def _listed(uow: UnitOfWork, query: ListDisputes) -> Page[Dispute]:
    where = DisputeFilter(
        account_id=query.account_id or None,
        payment_id=query.payment_id or None,
        states=query.states,
    )
    return await uow.disputes.list_disputes(where, page=query.page)

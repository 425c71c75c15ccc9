"""Invoices; their lines are JSON (see ``_codec``)."""

from __future__ import annotations

from collections.abc import Collection

from payment_service.adapters.db.repositories._base import (
    RefreshedSqlRepository,
    VersionedSqlRepository,
)
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import invoices
from payment_service.domain.entities import Invoice
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import InvoiceState


class SqlInvoiceRepository(RefreshedSqlRepository[Invoice], VersionedSqlRepository[Invoice]):
    table = invoices
    codec = RowCodec(Invoice)
    stripe_id = "stripe_invoice_id"

    async def list_invoices(
        self,
        *,
        page: PageRequest,
        account_id: str | None = None,
        subscription_id: str | None = None,
        states: Collection[InvoiceState] = (),
    ) -> Page[Invoice]:
        if account_id is None and subscription_id is None:
            raise ValueError("list the invoices of an account or of a subscription")
        return await self._owned_page(
            page, states, account_id=account_id, subscription_id=subscription_id
        )

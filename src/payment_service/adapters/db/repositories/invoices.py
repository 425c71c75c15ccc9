"""Invoices; their lines are JSON (see ``_codec``)."""

from __future__ import annotations

from payment_service.adapters.db.repositories._base import RefreshedSqlRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import invoices
from payment_service.app.ports.list_filters import InvoiceFilter
from payment_service.domain.entities import Invoice
from payment_service.domain.pagination import Page, PageRequest


class SqlInvoiceRepository(RefreshedSqlRepository[Invoice]):
    table = invoices
    codec = RowCodec(Invoice)

    async def list_invoices(self, where: InvoiceFilter, *, page: PageRequest) -> Page[Invoice]:
        return await self._owned_page(page, where)

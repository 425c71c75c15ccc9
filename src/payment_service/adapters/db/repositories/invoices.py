"""Invoices, with their lines stored as JSON."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, select

from payment_service.adapters.db.repositories._base import (
    SqlRepository,
    by_create_time,
    created_between,
    entity_values,
    state_in,
)
from payment_service.adapters.db.tables import invoices
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Invoice, InvoiceLine
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import InvoiceState

_LINE_TIMES = ("period_start", "period_end")


def _line_to_json(line: InvoiceLine) -> dict[str, Any]:
    values = entity_values(line)
    for name in _LINE_TIMES:
        if values[name] is not None:
            values[name] = values[name].isoformat()
    return values


def _line_from_json(values: dict[str, Any]) -> InvoiceLine:
    times = {
        name: datetime.fromisoformat(values[name]) if values.get(name) else None
        for name in _LINE_TIMES
    }
    return InvoiceLine(**{**values, **times})


def _to_entity(row: RowMapping) -> Invoice:
    return Invoice(
        **{
            **row,
            "state": InvoiceState(row["state"]),
            "lines": [_line_from_json(line) for line in row["lines"]],
        }
    )


def _to_row(invoice: Invoice, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    values = entity_values(invoice, skip=skip)
    values["lines"] = [_line_to_json(line) for line in invoice.lines]
    return values


class SqlInvoiceRepository(SqlRepository):
    table = invoices

    async def _one(self, statement: Select[tuple[object, ...]]) -> Invoice | None:
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def get(self, invoice_id: str) -> Invoice | None:
        return await self._one(select(invoices).where(invoices.c.id == invoice_id))

    async def find_by_stripe_id(
        self, stripe_invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None:
        statement = select(invoices).where(invoices.c.stripe_invoice_id == stripe_invoice_id)
        return await self._one(statement.with_for_update() if for_update else statement)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[InvoiceState] = (),
        subscription_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Invoice]:
        conditions = [
            invoices.c.account_id == account_id,
            *state_in(self.table, states),
            *created_between(self.table, created_after, created_before),
        ]
        if subscription_id is not None:
            conditions.append(invoices.c.subscription_id == subscription_id)
        filters = {
            "list": "invoices",
            "account_id": account_id,
            "states": states,
            "subscription_id": subscription_id,
            "created_after": created_after,
            "created_before": created_before,
        }
        return await self._keyset_page(conditions, page, filters, _to_entity, by_create_time)

    async def add(self, invoice: Invoice) -> None:
        await self._insert(_to_row(invoice))

    async def update(self, invoice: Invoice) -> None:
        invoice.update_time = utcnow()
        await self._update_by_id(invoice.id, _to_row(invoice, skip=("id", "create_time")))

"""Saved payment methods (Stripe tokens and display facts only)."""

from __future__ import annotations

from payment_service.adapters.db.repositories._base import EntityRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import payment_methods
from payment_service.app.ports.list_filters import PaymentMethodFilter
from payment_service.domain.entities import PaymentMethod
from payment_service.domain.pagination import Page, PageRequest


class SqlPaymentMethodRepository(EntityRepository[PaymentMethod]):
    table = payment_methods
    codec = RowCodec(PaymentMethod)

    async def list_for_account(
        self, where: PaymentMethodFilter, *, page: PageRequest
    ) -> Page[PaymentMethod]:
        return await self._owned_page(page, where)

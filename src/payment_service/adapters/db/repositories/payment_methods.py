"""Saved payment methods (Stripe tokens and display facts only)."""

from __future__ import annotations

from collections.abc import Collection

from payment_service.adapters.db.repositories._base import EntityRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import payment_methods
from payment_service.domain.entities import PaymentMethod
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import PaymentMethodState


class SqlPaymentMethodRepository(EntityRepository[PaymentMethod]):
    table = payment_methods
    codec = RowCodec(PaymentMethod)
    stripe_id = "stripe_payment_method_id"

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        customer_id: str | None = None,
        states: Collection[PaymentMethodState] = (),
    ) -> Page[PaymentMethod]:
        return await self._owned_page(page, states, account_id=account_id, customer_id=customer_id)

"""GetPayment and ListPayments.

GetPayment answers from the cache when it can. A non-final payment not read
from Stripe for ``refresh_after_s`` is refreshed first (once, however many
concurrent Gets ask for it), through the same refresh as the reconciler's.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.refreshing import GetRefreshes, refreshed_or_stored
from payment_service.app.common.validation import Violations
from payment_service.app.payments.refresh import PaymentRefresher
from payment_service.app.payments.rules import ListPayments
from payment_service.app.payments.store import PaymentStore
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Payment
from payment_service.domain.errors import NotFound
from payment_service.domain.pagination import Page
from payment_service.domain.states import PaymentState


@dataclass
class PaymentQueries:
    store: PaymentStore
    refresher: PaymentRefresher
    refreshes: GetRefreshes

    async def get(self, caller: Caller, payment_id: str) -> Payment:
        check = Violations()
        check.object_id(payment_id, "pay")
        check.raise_if_any()
        payment = await self.store.cached(payment_id)
        if payment is None:
            payment = await self.store.load(payment_id)
            if not self._needs_refresh(payment):
                await self.store.publish(payment)
        if not caller.may_access(payment.account_id):
            raise NotFound("payment", payment_id)
        if self._needs_refresh(payment):
            return await self._refresh_once(payment)
        return payment

    async def _refresh_once(self, payment: Payment) -> Payment:
        """Concurrent Gets of one stale payment make one Stripe read; the others reuse it."""
        async with self.refreshes.one_at_a_time(payment.id):
            current = await self.store.load(payment.id)
            if not self._needs_refresh(current):
                return current
            return await refreshed_or_stored(current, self.refresher.refresh, "payment")

    def _needs_refresh(self, payment: Payment) -> bool:
        if (
            payment.is_final
            or payment.state is PaymentState.PENDING
            or payment.stripe_payment_intent_id is None
        ):
            return False
        return self.refreshes.due(payment)

    async def list(self, caller: Caller, query: ListPayments) -> Page[Payment]:
        check = Violations()
        check.account_id(query.account_id)
        if (
            query.created_after
            and query.created_before
            and query.created_after >= query.created_before
        ):
            check.add("created_before", "must be later than created_after")
        check.raise_if_any()
        caller.require_account(query.account_id)
        async with self.store.uow_factory(read_only=True) as uow:
            return await uow.payments.list_for_account(
                query.account_id,
                page=query.page,
                states=query.states,
                created_after=query.created_after,
                created_before=query.created_before,
            )

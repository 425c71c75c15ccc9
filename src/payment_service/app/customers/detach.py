"""DetachPaymentMethod as a mutation of one payment method (app/common/mutation.py): a
retry after a lost answer gets the detached method, even when a webhook detached it first."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.mutation import Attempt, PlainAnswers
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.domain.entities import PaymentMethod
from payment_service.domain.errors import found
from payment_service.domain.processor import RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState


@dataclass
class DetachAnswers(PlainAnswers):
    """How Stripe's detach of a payment method is kept."""

    uow_factory: UnitOfWorkFactory

    async def store(self, attempt: Attempt, remote: RemotePaymentMethod) -> PaymentMethod:
        async with self.uow_factory() as uow:
            # Re-read: a payment_method.detached webhook may have got here first.
            method = found(
                await uow.payment_methods.get(attempt.object_id),
                "payment_method",
                attempt.object_id,
            )
            if method.state is not PaymentMethodState.DETACHED:
                method.detach()
                await uow.payment_methods.update(method)
            customer = found(
                await uow.customers.get(method.customer_id), "customer", method.customer_id
            )
            if customer.default_payment_method_id == method.id:
                customer.default_payment_method_id = None
                customer.touch()
                await uow.customers.update(customer)
            await attempt.answered(uow)
            await uow.commit()
        return method

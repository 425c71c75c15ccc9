"""DetachPaymentMethod as a mutation of one payment method (app/common/mutation.py): a
retry after a lost answer gets the detached method, even when a webhook detached it first."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.audit import audit
from payment_service.app.common.replay import MutationRequest, record
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import PaymentMethod, RequestRecord
from payment_service.domain.errors import CardDeclined, found
from payment_service.domain.processor import RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState


@dataclass
class DetachAnswers:
    """How a payment method is read and how Stripe's detach is kept."""

    uow_factory: UnitOfWorkFactory
    kind = "payment_method"

    async def load(self, uow: UnitOfWork, object_id: str) -> PaymentMethod | None:
        return await uow.payment_methods.get(object_id)

    async def store(
        self,
        caller: Caller,
        request: MutationRequest,
        object_id: str,
        remote: RemotePaymentMethod,
        action: str,
    ) -> PaymentMethod:
        async with self.uow_factory() as uow:
            # Re-read: a payment_method.detached webhook may have got here first.
            method = found(await uow.payment_methods.get(object_id), "payment_method", object_id)
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
            await record(uow, request, method.id)
            await audit(uow, caller.sub, action, ("payment_method", method.id))
            await uow.commit()
        return method

    async def declined(
        self,
        caller: Caller,
        request: MutationRequest,
        target: PaymentMethod,
        error: CardDeclined,
        action: str,
    ) -> CardDeclined:
        return error

    def replay(self, answered: RequestRecord, target: PaymentMethod) -> None:
        return None

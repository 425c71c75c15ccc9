"""Event handlers for payment methods and customers.

Payment method and customer updates carry no state machine for their display
facts, so those two re-read the object from Stripe and store what Stripe says
now (the stored state converges to Stripe's). The re-read goes through
``common.stripe_reads.fetched``: the webhook use case does it with no
transaction open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from payment_service.app.common.stripe_reads import fetched
from payment_service.app.ports.events import EventHandler, EventOutcome, StripeMapping
from payment_service.app.ports.list_filters import PaymentMethodFilter
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.entities import Customer, PaymentMethod
from payment_service.domain.errors import NotFound
from payment_service.domain.pagination import PageRequest
from payment_service.domain.processor import RemoteEvent, RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState

log = logging.getLogger(__name__)


@dataclass
class CustomerEventHandlers:
    """Handlers bound to the Stripe mapping and the processor (for re-reads)."""

    mapping: StripeMapping
    processor: PaymentProcessor

    def handlers(self) -> dict[str, EventHandler]:
        table: dict[str, EventHandler] = {}
        table["payment_method.attached"] = self.payment_method_attached
        table["payment_method.detached"] = self.payment_method_detached
        table["payment_method.updated"] = self.payment_method_updated
        table["customer.updated"] = self.customer_updated
        table["customer.deleted"] = self.customer_deleted
        return table

    # --- payment methods --------------------------------------------------------------

    async def payment_method_attached(self, event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        remote = self.mapping.to_payment_method(event.data_object)
        return await self._converge_method(uow, remote)

    async def payment_method_updated(self, event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        stripe_id = self.mapping.to_payment_method(event.data_object).stripe_id
        try:
            remote = await fetched(
                f"payment_method:{stripe_id}",
                lambda: self.processor.retrieve_payment_method(stripe_id),
            )
        except NotFound:
            return EventOutcome.ignored(f"{stripe_id} no longer exists at Stripe")
        return await self._converge_method(uow, remote)

    async def payment_method_detached(self, event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        remote = self.mapping.to_payment_method(event.data_object)
        stored = await uow.payment_methods.find_by_stripe_id(remote.stripe_id)
        if stored is None:
            previous = self.mapping.previous_customer(event)
            customer = await uow.customers.find_by_stripe_id(previous) if previous else None
            if customer is None:
                return EventOutcome.ignored(f"{remote.stripe_id} is not one of ours")
            # Keep a detached tombstone so a late "attached" cannot bring it back.
            stored = PaymentMethod.from_remote(
                remote,
                account_id=customer.account_id,
                customer_id=customer.id,
                state=PaymentMethodState.DETACHED,
            )
            await uow.payment_methods.add(stored)
            return EventOutcome.applied(detail=f"payment method {stored.id} stored as detached")
        return await self._detach(uow, stored)

    async def _converge_method(self, uow: UnitOfWork, remote: RemotePaymentMethod) -> EventOutcome:
        stored = await uow.payment_methods.find_by_stripe_id(remote.stripe_id)
        if stored is not None and stored.state is PaymentMethodState.DETACHED:
            return EventOutcome.ignored(f"payment method {stored.id} is detached for good")
        if remote.customer is None:
            if stored is None:
                return EventOutcome.ignored(f"{remote.stripe_id} is attached to no customer")
            return await self._detach(uow, stored)
        if stored is None:
            customer = await uow.customers.find_by_stripe_id(remote.customer)
            if customer is None:
                return EventOutcome.ignored(f"customer {remote.customer} is not one of ours")
            stored = PaymentMethod.from_remote(
                remote, account_id=customer.account_id, customer_id=customer.id
            )
            await uow.payment_methods.add(stored)
            return EventOutcome.applied(detail=f"payment method {stored.id} stored from Stripe")
        if not stored.refresh_facts(remote):
            return EventOutcome.ignored(f"payment method {stored.id} already up to date")
        await uow.payment_methods.update(stored)
        return EventOutcome.applied(detail=f"payment method {stored.id} updated")

    async def _detach(self, uow: UnitOfWork, stored: PaymentMethod) -> EventOutcome:
        if stored.state is PaymentMethodState.DETACHED:
            return EventOutcome.ignored(f"payment method {stored.id} already detached")
        stored.detach()
        await uow.payment_methods.update(stored)
        customer = await uow.customers.get(stored.customer_id)
        if customer is not None and customer.default_payment_method_id == stored.id:
            customer.default_payment_method_id = None
            customer.touch()
            await uow.customers.update(customer)
        return EventOutcome.applied(detail=f"payment method {stored.id} detached")

    # --- customers --------------------------------------------------------------------

    async def _our_customer(
        self, event: RemoteEvent, uow: UnitOfWork
    ) -> tuple[str, Customer | None]:
        stripe_id = self.mapping.to_customer(event.data_object).stripe_id
        return stripe_id, await uow.customers.find_by_stripe_id(stripe_id)

    async def customer_updated(self, event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        stripe_id, customer = await self._our_customer(event, uow)
        if customer is None:
            return EventOutcome.ignored(f"customer {stripe_id} is not one of ours")
        try:
            remote = await fetched(
                f"customer:{stripe_id}", lambda: self.processor.retrieve_customer(stripe_id)
            )
        except NotFound:
            return EventOutcome.ignored(f"customer {stripe_id} no longer exists at Stripe")
        if remote.deleted:
            return EventOutcome.ignored(f"customer {stripe_id} is deleted at Stripe")
        default_id = customer.default_payment_method_id
        if remote.default_payment_method is not None:
            method = await uow.payment_methods.find_by_stripe_id(remote.default_payment_method)
            if method is not None and method.state is PaymentMethodState.ATTACHED:
                default_id = method.id
        changed = (customer.email, customer.name, customer.default_payment_method_id) != (
            remote.email,
            remote.name,
            default_id,
        )
        if not changed:
            return EventOutcome.ignored(f"customer {customer.id} already up to date")
        customer.email, customer.name = remote.email, remote.name
        customer.default_payment_method_id = default_id
        customer.touch()
        await uow.customers.update(customer)
        return EventOutcome.applied(detail=f"customer {customer.id} updated")

    async def customer_deleted(self, event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        stripe_id, customer = await self._our_customer(event, uow)
        if customer is None:
            return EventOutcome.ignored(f"customer {stripe_id} is not one of ours")
        detached = await _detach_all(uow, customer)
        # Unlinked: the account gets a new Stripe customer when it next needs one.
        customer.stripe_customer_id = None
        customer.default_payment_method_id = None
        customer.touch()
        await uow.customers.update(customer)
        return EventOutcome.applied(
            detail=f"customer {customer.id} unlinked from {stripe_id}; {detached} methods detached"
        )


def customer_event_handlers(
    mapping: StripeMapping, processor: PaymentProcessor
) -> dict[str, EventHandler]:
    return CustomerEventHandlers(mapping, processor).handlers()


async def _detach_all(uow: UnitOfWork, customer: Customer) -> int:
    """Stripe detaches a deleted customer's payment methods; mirror that."""
    attached: list[PaymentMethod] = []
    of_customer = PaymentMethodFilter(
        account_id=customer.account_id,
        customer_id=customer.id,
        states=(PaymentMethodState.ATTACHED,),
    )
    page = PageRequest(page_size=200)
    while True:
        found = await uow.payment_methods.list_for_account(of_customer, page=page)
        attached.extend(found.items)
        if not found.next_page_token:
            break
        page = PageRequest(page_size=200, page_token=found.next_page_token)
    for method in attached:
        method.detach()
        await uow.payment_methods.update(method)
    return len(attached)

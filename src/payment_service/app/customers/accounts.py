"""The account's Stripe customer: found, or created once on first use."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.audit import audit_entry, insert_or_winner
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.validation import Violations
from payment_service.app.ports.processor import NewCustomer, PaymentProcessor, idempotency_key
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Customer
from payment_service.domain.errors import NotFound, found
from payment_service.domain.ids import new_id


@dataclass
class Customers:
    uow_factory: UnitOfWorkFactory
    processor: PaymentProcessor

    def __post_init__(self) -> None:
        self._locks = KeyedLocks()

    async def get(self, caller: Caller, account_id: str) -> Customer:
        """GetCustomer: the account's customer, NOT_FOUND when it has none (or is not the caller's)."""
        check = Violations()
        check.account_id(account_id)
        check.raise_if_any()
        caller.require_account(account_id, "customer")
        async with self.uow_factory(read_only=True) as uow:
            customer = await uow.customers.get_by_account(account_id)
        if customer is None or customer.stripe_customer_id is None:
            raise NotFound("customer", account_id)
        return customer

    async def get_or_create(self, caller: Caller, account_id: str) -> Customer:
        """The account's customer, with its Stripe customer; both created on first use.

        The local row is committed first, and Stripe is asked with a key derived
        from its id, so a crash or a concurrent request never makes a second one.
        """
        async with self._locks.hold(account_id):
            customer = await self._find_or_insert(caller, account_id)
            if customer.stripe_customer_id is not None:
                return customer
            remote = await self.processor.create_customer(
                NewCustomer(account_id=account_id, metadata={"customer_id": customer.id}),
                idempotency_key=_creation_key(customer),
            )
            async with self.uow_factory() as uow:
                stored = found(await uow.customers.get(customer.id), "customer", customer.id)
                if stored.stripe_customer_id is None:
                    stored.stripe_customer_id = remote.stripe_id
                    stored.touch()
                    await uow.customers.update(stored)
                    await uow.commit()
                return stored

    async def _find_or_insert(self, caller: Caller, account_id: str) -> Customer:
        async def by_account() -> Customer | None:
            async with self.uow_factory(read_only=True) as uow:
                return await uow.customers.get_by_account(account_id)

        existing = await by_account()
        if existing is not None:
            return existing
        customer = Customer(id=new_id("cust"), account_id=account_id)
        # When another replica made it first, use theirs.
        stored, _ = await insert_or_winner(
            self.uow_factory,
            customer,
            add=lambda uow: uow.customers.add(customer),
            winner=by_account,
            audit=audit_entry(caller.sub, "customers.create", ("customer", customer.id)),
        )
        return stored


def _creation_key(customer: Customer) -> str:
    """Stable across retries of one creation; new after Stripe deleted the customer.

    A ``customer.deleted`` event unlinks the Stripe customer and touches the row, so
    the next creation gets a key of its own instead of Stripe replaying the deleted one.
    """
    return idempotency_key(customer.id, f"create:{int(customer.update_time.timestamp() * 1000)}")

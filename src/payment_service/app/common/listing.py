"""What the reads of objects "of one payment or of one account" share (refunds, disputes):
a get of one the caller may see; lists with exactly one of the two filters, and a payment
only the caller may see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from payment_service.app.common.owned import AccountOwned
from payment_service.app.common.validation import Violations
from payment_service.app.ports.storage import EntityStore, UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.errors import NotFound
from payment_service.domain.pagination import Page


class _ListQuery(Protocol):
    @property
    def payment_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...


Owned = TypeVar("Owned", bound=AccountOwned)
Query = TypeVar("Query", bound=_ListQuery)


@dataclass
class PaymentOrAccountQueries(Generic[Owned, Query]):
    """Get and List of one kind of object of one payment and one account: ``rows`` holds
    them, ``kind`` and ``prefix`` name them (``"refund"``, ``"rfd"``); ``listed`` reads a
    page for a query whose filters are checked, in the check's read-only transaction."""

    uow_factory: UnitOfWorkFactory
    rows: Callable[[UnitOfWork], EntityStore[Owned]]
    kind: str
    prefix: str
    listed: Callable[[UnitOfWork, Query], Awaitable[Page[Owned]]]

    async def get(self, caller: Caller, entity_id: str) -> Owned:
        return await get_visible(
            self.uow_factory, caller, self.rows, self.kind, self.prefix, entity_id
        )

    async def list(self, caller: Caller, query: Query) -> Page[Owned]:
        check_payment_or_account(caller, query.payment_id, query.account_id)
        async with self.uow_factory(read_only=True) as uow:
            if query.payment_id:
                await require_visible_payment(uow, caller, query.payment_id)
            return await self.listed(uow, query)


async def get_visible(
    uow_factory: UnitOfWorkFactory,
    caller: Caller,
    rows: Callable[[UnitOfWork], EntityStore[Owned]],
    kind: str,
    prefix: str,
    entity_id: str,
) -> Owned:
    """The stored row ``entity_id`` (an id with ``prefix``): INVALID_ARGUMENT when the id is
    malformed, NOT_FOUND when the row is not there or not the caller's to see."""
    check = Violations()
    check.object_id(entity_id, prefix)
    check.raise_if_any()
    async with uow_factory(read_only=True) as uow:
        found = await rows(uow).get(entity_id)
    if found is None or not caller.may_access(found.account_id):
        raise NotFound(kind, entity_id)
    return found


def check_payment_or_account(caller: Caller, payment_id: str, account_id: str) -> None:
    """INVALID_ARGUMENT unless exactly one of them is set, and well formed; an account the
    caller may not list is refused as ``caller.require_account`` does."""
    check = Violations()
    if bool(payment_id) == bool(account_id):
        message = "set exactly one of payment_id and account_id"
        check.add("payment_id", message)
        check.add("account_id", message)
    elif payment_id:
        check.object_id(payment_id, "pay", "payment_id")
    else:
        check.account_id(account_id)
    check.raise_if_any()
    if account_id:
        caller.require_account(account_id)


async def require_visible_payment(uow: UnitOfWork, caller: Caller, payment_id: str) -> None:
    """NOT_FOUND for a payment that is not there, or not the caller's to see."""
    payment = await uow.payments.get(payment_id)
    if payment is None or not caller.may_access(payment.account_id):
        raise NotFound("payment", payment_id)

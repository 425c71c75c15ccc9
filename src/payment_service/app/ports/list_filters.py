"""What a list of rows is filtered by: the owners whose rows it holds and their states."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import ClassVar, Generic, TypeVar

from payment_service.domain.states import DisputeState, InvoiceState, PaymentMethodState

S_co = TypeVar("S_co", covariant=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnedRows(Generic[S_co]):
    """Which rows a list holds: those in ``states`` (any, when empty) of every owner given.
    A subclass's other fields are the owners, named as their columns (None is no
    condition); ``unowned`` is the error of a filter that gives none."""

    unowned: ClassVar[str]
    states: Collection[S_co] = ()

    def __post_init__(self) -> None:
        if all(owner is None for owner in self.owners().values()):
            raise ValueError(self.unowned)

    def owners(self) -> dict[str, str | None]:
        """The owner columns and the ids they equal."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "states"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentMethodFilter(OwnedRows[PaymentMethodState]):
    """An account's payment methods, or those of one of its customers."""

    unowned = "list the payment methods of an account"
    account_id: str
    customer_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceFilter(OwnedRows[InvoiceState]):
    """The invoices of an account, of a subscription, or of both (one at least)."""

    unowned = "list the invoices of an account or of a subscription"
    account_id: str | None = None
    subscription_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeFilter(OwnedRows[DisputeState]):
    """The disputes of an account, of a payment, or of both (one at least)."""

    unowned = "list the disputes of an account or of a payment"
    account_id: str | None = None
    payment_id: str | None = None

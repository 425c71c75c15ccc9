"""The storage ports over ``InMemoryStorage``: ``FakeUnitOfWork`` and ``FakeUnitOfWorkFactory``.

A unit of work begins with a deep copy of the committed rows; ``commit()`` publishes
what it wrote (and begins anew, as the SQL unit of work does), leaving without
``commit()`` throws it away. See ``database.py`` for locks, keys and versions.

Deliberately stricter than the SQL adapter: a ``read_only=True`` unit of work that
writes raises RuntimeError (SQLite and PostgreSQL would let it write).
"""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self

from payment_service.adapters.db.raw_statement import one_after_the_other
from tests.unit.fakes.database import InMemoryStorage, Transaction
from tests.unit.fakes.repositories import (
    FakeAuditLog,
    FakeCustomerRepository,
    FakeDisputeRepository,
    FakeInvoiceRepository,
    FakePaymentMethodRepository,
    FakePaymentRepository,
    FakePriceRepository,
    FakeReconcilerStateStore,
    FakeRefundRepository,
    FakeRequestRecordRepository,
    FakeSetupIntentRepository,
    FakeSubscriptionRepository,
    FakeWebhookEventRepository,
)

__all__ = ["FakeUnitOfWork", "FakeUnitOfWorkFactory", "InMemoryStorage"]


class FakeUnitOfWork:
    def __init__(self, storage: InMemoryStorage, *, read_only: bool = False) -> None:
        self._storage = storage
        self._read_only = read_only
        self._txn: Transaction | None = None
        self.committed = False

    def _open(self) -> Transaction:
        if self._txn is None:
            raise RuntimeError("the unit of work is not open; use it with 'async with'")
        return self._txn

    @property
    def customers(self) -> FakeCustomerRepository:
        return FakeCustomerRepository(self._open())

    @property
    def payment_methods(self) -> FakePaymentMethodRepository:
        return FakePaymentMethodRepository(self._open())

    @property
    def payments(self) -> FakePaymentRepository:
        return FakePaymentRepository(self._open())

    @property
    def refunds(self) -> FakeRefundRepository:
        return FakeRefundRepository(self._open())

    @property
    def prices(self) -> FakePriceRepository:
        return FakePriceRepository(self._open())

    @property
    def subscriptions(self) -> FakeSubscriptionRepository:
        return FakeSubscriptionRepository(self._open())

    @property
    def invoices(self) -> FakeInvoiceRepository:
        return FakeInvoiceRepository(self._open())

    @property
    def webhook_events(self) -> FakeWebhookEventRepository:
        return FakeWebhookEventRepository(self._open())

    @property
    def request_records(self) -> FakeRequestRecordRepository:
        return FakeRequestRecordRepository(self._open())

    @property
    def audit(self) -> FakeAuditLog:
        return FakeAuditLog(self._open())

    @property
    def reconciler_state(self) -> FakeReconcilerStateStore:
        return FakeReconcilerStateStore(self._open())

    @property
    def disputes(self) -> FakeDisputeRepository:
        return FakeDisputeRepository(self._open())

    @property
    def setup_intents(self) -> FakeSetupIntentRepository:
        return FakeSetupIntentRepository(self._open())

    async def __aenter__(self) -> Self:
        if self._txn is not None:
            raise RuntimeError("a unit of work can be entered only once at a time")
        self._txn = Transaction(self._storage, read_only=self._read_only)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        txn, self._txn = self._txn, None
        if txn is not None:
            txn.close()  # whatever was not committed is gone

    async def commit(self) -> None:
        self._open().commit()
        self.committed = True

    async def rollback(self) -> None:
        self._open().rollback()

    async def together(self, *reads: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
        return tuple(await one_after_the_other(reads))  # as on SQLite


class FakeUnitOfWorkFactory:
    """The ``UnitOfWorkFactory`` port over one ``InMemoryStorage``; counts what it opened."""

    def __init__(self, storage: InMemoryStorage | None = None) -> None:
        self.storage = storage if storage is not None else InMemoryStorage()
        self.opened = 0

    def __call__(self, *, read_only: bool = False) -> FakeUnitOfWork:
        self.opened += 1
        return FakeUnitOfWork(self.storage, read_only=read_only)

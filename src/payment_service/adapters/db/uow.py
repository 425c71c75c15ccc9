"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_service.adapters.db.deferred import commit_with_held_rows, discard
from payment_service.adapters.db.engine import SQLITE_BEGIN_MODE
from payment_service.adapters.db.errors import translated_errors
from payment_service.adapters.db.raw_statement import together
from payment_service.adapters.db.repositories import (
    SqlAuditLog,
    SqlCustomerRepository,
    SqlDisputeRepository,
    SqlInvoiceRepository,
    SqlPaymentMethodRepository,
    SqlPaymentRepository,
    SqlPriceRepository,
    SqlReconcilerStateStore,
    SqlRefundRepository,
    SqlRequestRecordRepository,
    SqlSetupIntentRepository,
    SqlSubscriptionRepository,
    SqlWebhookEventRepository,
)
from payment_service.adapters.db.repositories._base import SqlRepository
from payment_service.adapters.db.repositories.outbox import outbox_committed


class SqlUnitOfWork:
    """``async with SqlUnitOfWork(engine) as uow: ...; await uow.commit()``.

    Leaving the block rolls back whatever was not committed, also after an error.
    On SQLite a write unit of work takes the write lock when it begins
    (``BEGIN IMMEDIATE``); ``read_only=True`` begins a deferred transaction instead.
    Its repositories are the attributes annotated below: each is made on the connection
    when the unit of work begins.
    """

    customers: SqlCustomerRepository
    payment_methods: SqlPaymentMethodRepository
    payments: SqlPaymentRepository
    refunds: SqlRefundRepository
    prices: SqlPriceRepository
    subscriptions: SqlSubscriptionRepository
    invoices: SqlInvoiceRepository
    webhook_events: SqlWebhookEventRepository
    request_records: SqlRequestRecordRepository
    audit: SqlAuditLog
    reconciler_state: SqlReconcilerStateStore
    disputes: SqlDisputeRepository
    setup_intents: SqlSetupIntentRepository

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open; use it with 'async with'")
        return self._connection

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work can be entered only once at a time")
        with translated_errors():
            connection = await self._engine.connect()
            try:
                if self._read_only and connection.dialect.name == "sqlite":
                    await connection.execution_options(**{SQLITE_BEGIN_MODE: "DEFERRED"})
                await connection.begin()
            except BaseException:
                await connection.close()
                raise
        self._connection = connection
        for name, repository in _REPOSITORIES:
            setattr(self, name, repository(connection))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        discard(connection)
        try:
            if connection.in_transaction():
                await connection.rollback()
        except (SQLAlchemyError, OSError):
            # The server went away after the work was done (or failed): an uncommitted
            # transaction is gone with the connection, so there is nothing to undo, and
            # what the block answered (or the error already on its way) stands.
            with contextlib.suppress(SQLAlchemyError, OSError):
                await connection.invalidate()
        finally:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await connection.close()

    async def commit(self) -> None:
        """Commit the work so far. Statements after it run in a new transaction."""
        with translated_errors():
            if not await commit_with_held_rows(self.connection):
                await self.connection.commit()
        outbox_committed(self.connection)

    async def rollback(self) -> None:
        discard(self.connection)
        with translated_errors():
            await self.connection.rollback()

    async def together(self, *reads: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
        """The port's ``together`` (its overloads type the results)."""
        return tuple(await together(self.connection, reads))


# SqlUnitOfWork's repositories: (attribute, class), as its annotations name them.
_REPOSITORIES: tuple[tuple[str, type[SqlRepository]], ...] = tuple(
    (name, hint)
    for name, hint in typing.get_type_hints(SqlUnitOfWork).items()
    if isinstance(hint, type) and issubclass(hint, SqlRepository)
)


class SqlUnitOfWorkFactory:
    """The ``UnitOfWorkFactory`` port over one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only)


if TYPE_CHECKING:
    from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory

    def _implements_ports(engine: AsyncEngine) -> tuple[UnitOfWorkFactory, UnitOfWork]:
        return SqlUnitOfWorkFactory(engine), SqlUnitOfWork(engine)

"""CHECK constraints hold in the migrated database itself, not only in the code."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from payment_service.adapters.db.tables import refunds, transactions
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory

from . import builders as b


@pytest.mark.parametrize(
    ("column", "value"),
    [("state", "bogus"), ("amount", 0), ("amount", -5), ("capture_method", "sometimes")],
)
async def test_payment_rows_outside_the_rules_are_refused(
    uow_factory: SqlUnitOfWorkFactory, column: str, value: object
) -> None:
    async with uow_factory() as uow:
        payment = b.payment(None)
        await uow.payments.add(payment)
        await uow.commit()
    async with uow_factory() as uow:
        statement = update(transactions).where(transactions.c.id == payment.id)
        with pytest.raises(IntegrityError):
            await uow.connection.execute(statement.values({column: value}))


@pytest.mark.parametrize(("column", "value"), [("state", "refunded-twice"), ("reason", "because")])
async def test_refund_rows_outside_the_rules_are_refused(
    uow_factory: SqlUnitOfWorkFactory, column: str, value: object
) -> None:
    async with uow_factory() as uow:
        payment = b.payment(None)
        await uow.payments.add(payment)
        refund = b.refund(payment)
        await uow.refunds.add(refund)
        await uow.commit()
    async with uow_factory() as uow:
        statement = update(refunds).where(refunds.c.id == refund.id)
        with pytest.raises(IntegrityError):
            await uow.connection.execute(statement.values({column: value}))

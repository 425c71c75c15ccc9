"""Every unique constraint surfaces as the domain's Conflict, naming the constraint."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from payment_service.adapters.db.tables import metadata
from payment_service.adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from payment_service.domain.entities import Customer, Price
from payment_service.domain.errors import Conflict
from payment_service.domain.ids import new_id

from . import builders as b

Setup = Callable[[SqlUnitOfWork], Awaitable[Callable[[], Awaitable[None]]]]


async def _customers_account(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c = b.customer()
    await uow.customers.add(c)
    twin = dataclasses.replace(b.customer(), account_id=c.account_id)
    return lambda: uow.customers.add(twin)


async def _customers_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c = b.customer()
    await uow.customers.add(c)
    twin = dataclasses.replace(b.customer(), stripe_customer_id=c.stripe_customer_id)
    return lambda: uow.customers.add(twin)


async def _customers_pk(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c = b.customer()
    await uow.customers.add(c)
    return lambda: uow.customers.add(dataclasses.replace(b.customer(), id=c.id))


async def _payment_methods_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c = b.customer()
    await uow.customers.add(c)
    m = b.payment_method(c)
    await uow.payment_methods.add(m)
    twin = dataclasses.replace(
        b.payment_method(c), stripe_payment_method_id=m.stripe_payment_method_id
    )
    return lambda: uow.payment_methods.add(twin)


async def _payments_request(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    p = b.payment(None)
    await uow.payments.add(p)
    return lambda: uow.payments.add(b.payment(None, request_id=p.request_id))


async def _payments_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    p = b.payment(None)
    await uow.payments.add(p)
    return lambda: uow.payments.add(
        b.payment(None, stripe_payment_intent_id=p.stripe_payment_intent_id)
    )


async def _request_records(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    r = b.request_record()
    await uow.request_records.add(r)
    return lambda: uow.request_records.add(dataclasses.replace(r, method="CancelPayment"))


async def _refunds_request(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    p = b.payment(None)
    await uow.payments.add(p)
    r = b.refund(p)
    await uow.refunds.add(r)
    return lambda: uow.refunds.add(b.refund(p, request_id=r.request_id))


async def _refunds_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    p = b.payment(None)
    await uow.payments.add(p)
    r = b.refund(p)
    await uow.refunds.add(r)
    return lambda: uow.refunds.add(b.refund(p, stripe_refund_id=r.stripe_refund_id))


async def _prices_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    pr = b.price()
    await uow.prices.add(pr)
    twin = dataclasses.replace(b.price(), stripe_price_id=pr.stripe_price_id)
    return lambda: uow.prices.add(twin)


async def _subscription_parents(uow: SqlUnitOfWork) -> tuple[Customer, Price]:
    c, pr = b.customer(), b.price()
    await uow.customers.add(c)
    await uow.prices.add(pr)
    return c, pr


async def _subscriptions_request(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c, pr = await _subscription_parents(uow)
    s = b.subscription(c, pr)
    await uow.subscriptions.add(s)
    twin = dataclasses.replace(b.subscription(c, pr), request_id=s.request_id)
    return lambda: uow.subscriptions.add(twin)


async def _subscriptions_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c, pr = await _subscription_parents(uow)
    s = b.subscription(c, pr)
    await uow.subscriptions.add(s)
    twin = b.subscription(c, pr, stripe_subscription_id=s.stripe_subscription_id)
    return lambda: uow.subscriptions.add(twin)


async def _invoices_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    c = b.customer()
    await uow.customers.add(c)
    i = b.invoice(c, None)
    await uow.invoices.add(i)
    twin = dataclasses.replace(b.invoice(c, None), stripe_invoice_id=i.stripe_invoice_id)
    return lambda: uow.invoices.add(twin)


async def _disputes_stripe(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    p = b.payment(None)
    await uow.payments.add(p)
    d = b.dispute(p)
    await uow.disputes.add(d)
    return lambda: uow.disputes.add(b.dispute(p, stripe_dispute_id=d.stripe_dispute_id))


async def _setup_intent(uow: SqlUnitOfWork, shared: str) -> Callable[[], Awaitable[None]]:
    """A second SetupIntent with the first one's ``shared`` field."""
    c = b.customer()
    await uow.customers.add(c)
    s = b.setup_intent(c)
    await uow.setup_intents.add(s)
    same = {shared: getattr(s, shared)}
    return lambda: uow.setup_intents.add(b.setup_intent(c, **same))


async def _webhook_events_pk(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    e = b.webhook_event()
    await uow.webhook_events.insert_if_new(e)
    return lambda: uow.webhook_events.insert_if_new(b.webhook_event(id=e.id))  # type: ignore[return-value]


async def _audit_pk(uow: SqlUnitOfWork) -> Callable[[], Awaitable[None]]:
    entry = b.audit_entry()
    await uow.audit.add(entry)

    async def add_twin() -> None:
        # On PostgreSQL audit rows go out with the commit (deferred.py): the commit fails.
        await uow.audit.add(dataclasses.replace(b.audit_entry(), id=entry.id))
        await uow.commit()

    return add_twin


CASES: dict[str, Setup] = {
    "uq_customers_account_id": _customers_account,
    "uq_customers_stripe_customer_id": _customers_stripe,
    "pk_customers": _customers_pk,
    "uq_payment_methods_stripe_payment_method_id": _payment_methods_stripe,
    "uq_transactions_caller_request_id": _payments_request,
    "uq_transactions_stripe_payment_intent_id": _payments_stripe,
    "pk_request_records": _request_records,
    "uq_refunds_caller_request_id": _refunds_request,
    "uq_refunds_stripe_refund_id": _refunds_stripe,
    "uq_prices_stripe_price_id": _prices_stripe,
    "uq_subscriptions_caller_request_id": _subscriptions_request,
    "uq_subscriptions_stripe_subscription_id": _subscriptions_stripe,
    "uq_invoices_stripe_invoice_id": _invoices_stripe,
    "uq_disputes_stripe_dispute_id": _disputes_stripe,
    "uq_setup_intents_caller_request_id": lambda uow: _setup_intent(uow, "request_id"),
    "uq_setup_intents_stripe_setup_intent_id": lambda uow: _setup_intent(
        uow, "stripe_setup_intent_id"
    ),
    "pk_webhook_events": _webhook_events_pk,
    "pk_audit_log": _audit_pk,
}


def test_every_unique_constraint_has_a_case() -> None:
    unique_names = {
        str(constraint.name)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if type(constraint).__name__ == "UniqueConstraint"
    }
    # uq_webhook_events_stripe_event_id is absorbed by insert_if_new (tested elsewhere).
    assert unique_names - set(CASES) == {"uq_webhook_events_stripe_event_id"}


@pytest.mark.parametrize("constraint", list(CASES))
async def test_duplicate_raises_conflict(
    uow_factory: SqlUnitOfWorkFactory, constraint: str
) -> None:
    async with uow_factory() as uow:
        insert_duplicate = await CASES[constraint](uow)
        with pytest.raises(Conflict) as info:
            await insert_duplicate()
    assert info.value.constraint == constraint
    assert info.value.metadata == {"constraint": constraint}
    assert info.value.reason == "ALREADY_EXISTS"


async def test_conflict_across_transactions(uow_factory: SqlUnitOfWorkFactory) -> None:
    p = b.payment(None)
    async with uow_factory() as uow:
        await uow.payments.add(p)
        await uow.commit()

    async def add_twin() -> None:
        async with uow_factory() as uow:
            await uow.payments.add(b.payment(None, id=new_id("pay"), request_id=p.request_id))
            await uow.commit()

    with pytest.raises(Conflict) as info:
        await add_twin()
    assert info.value.constraint == "uq_transactions_caller_request_id"

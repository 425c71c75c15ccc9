"""The fake unit of work behaves like the SQL one: copies, commit, keys, versions, locks, pages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Customer, Payment, Refund
from payment_service.domain.errors import Aborted, Conflict, InvalidArgument
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import PaymentState
from tests.unit.fakes.database import ForeignKeyViolation
from tests.unit.fakes.storage import FakeUnitOfWorkFactory, InMemoryStorage


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(InMemoryStorage())


def _payment(request_id: str = "r1", **changes: object) -> Payment:
    values: dict[str, object] = {
        "id": new_id("pay"),
        "account_id": "acct_1",
        "customer_id": None,
        "caller": "svc",
        "request_id": request_id,
        "request_hash": "0" * 64,
        "amount": 1000,
        "currency": "usd",
    }
    return Payment(**{**values, **changes})  # type: ignore[arg-type]


async def _stored(factory: FakeUnitOfWorkFactory, payment: Payment) -> Payment:
    async with factory() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment


async def test_commit_publishes_and_leaving_without_commit_discards(
    factory: FakeUnitOfWorkFactory,
) -> None:
    kept, dropped = _payment("r1"), _payment("r2")
    await _stored(factory, kept)
    async with factory() as uow:
        await uow.payments.add(dropped)

    assert list(factory.storage.payments) == [kept.id]


async def test_entities_are_copies_until_written_back(factory: FakeUnitOfWorkFactory) -> None:
    payment = await _stored(factory, _payment())
    payment.amount = 1  # the caller's object is not the row

    async with factory() as uow:
        read = await uow.payments.get(payment.id)
        assert read is not None
        assert read.amount == 1000
        read.amount = 2
        await uow.commit()

    assert factory.storage.payments[payment.id].amount == 1000


async def test_a_second_row_for_a_request_is_a_conflict_and_spoils_the_unit_of_work(
    factory: FakeUnitOfWorkFactory,
) -> None:
    await _stored(factory, _payment("r1"))

    async with factory() as uow:
        with pytest.raises(Conflict) as raised:
            await uow.payments.add(_payment("r1"))
        assert raised.value.constraint == "uq_transactions_caller_request_id"
        with pytest.raises(RuntimeError, match="unusable"):
            await uow.payments.get("pay_x")


async def test_update_bumps_the_version_and_refuses_a_stale_one(
    factory: FakeUnitOfWorkFactory,
) -> None:
    payment = await _stored(factory, _payment())
    async with factory() as uow:
        first, second = await uow.payments.get(payment.id), await uow.payments.get(payment.id)
        assert first is not None
        assert second is not None
        await uow.payments.update(first)
        assert first.version == 1
        with pytest.raises(Aborted):
            await uow.payments.update(second)
        assert second.version == 0


async def test_a_row_changed_by_another_unit_of_work_fails_the_later_commit(
    factory: FakeUnitOfWorkFactory,
) -> None:
    payment = await _stored(factory, _payment())
    async with factory() as slow, factory() as fast:
        late = await slow.payments.get(payment.id)
        early = await fast.payments.get(payment.id)
        assert late is not None
        assert early is not None
        await slow.payments.update(late)
        await fast.payments.update(early)
        await fast.commit()
        with pytest.raises(Aborted):
            await slow.commit()

    assert factory.storage.payments[payment.id].version == 1


async def test_a_locking_read_waits_for_the_holder_and_sees_its_commit(
    factory: FakeUnitOfWorkFactory,
) -> None:
    payment = await _stored(factory, _payment())
    seen: list[PaymentState] = []

    async def holder() -> None:
        async with factory() as uow:
            locked = await uow.payments.get_for_update(payment.id)
            assert locked is not None
            await asyncio.sleep(0)  # let the other one queue up
            locked.state = PaymentState.REQUIRES_CAPTURE
            await uow.payments.update(locked)
            await uow.commit()

    async def waiter() -> None:
        async with factory() as uow:
            locked = await uow.payments.get_for_update(payment.id)
            assert locked is not None
            seen.append(locked.state)

    await asyncio.gather(holder(), waiter())

    assert seen == [PaymentState.REQUIRES_CAPTURE]


async def test_relocking_a_row_held_by_the_same_task_is_refused_not_hung(
    factory: FakeUnitOfWorkFactory,
) -> None:
    payment = await _stored(factory, _payment())
    async with factory() as outer, factory() as inner:
        await outer.payments.get_for_update(payment.id)
        with pytest.raises(RuntimeError, match="wait forever"):
            await inner.payments.get_for_update(payment.id)


async def test_a_read_only_unit_of_work_may_not_write(factory: FakeUnitOfWorkFactory) -> None:
    async with factory(read_only=True) as uow:
        with pytest.raises(RuntimeError, match="read-only"):
            await uow.payments.add(_payment())


async def test_a_row_must_name_an_existing_parent(factory: FakeUnitOfWorkFactory) -> None:
    orphan = Refund(
        id=new_id("rfd"),
        payment_id="pay_missing",
        account_id="acct_1",
        caller="svc",
        request_id="r1",
        request_hash="0" * 64,
        amount=100,
        currency="usd",
    )
    async with factory() as uow:
        with pytest.raises(ForeignKeyViolation):
            await uow.refunds.add(orphan)


async def test_a_null_stripe_id_never_collides(factory: FakeUnitOfWorkFactory) -> None:
    async with factory() as uow:
        await uow.customers.add(Customer(id=new_id("cust"), account_id="a1"))
        await uow.customers.add(Customer(id=new_id("cust"), account_id="a2"))
        with pytest.raises(Conflict) as raised:
            await uow.customers.add(Customer(id=new_id("cust"), account_id="a1"))

    assert raised.value.constraint == "uq_customers_account_id"


async def test_lists_are_newest_first_in_pages_with_tokens_bound_to_their_filters(
    factory: FakeUnitOfWorkFactory,
) -> None:
    start = utcnow()
    made = [
        await _stored(factory, _payment(f"r{n}", create_time=start + timedelta(seconds=n)))
        for n in range(5)
    ]
    async with factory(read_only=True) as uow:
        first = await uow.payments.list_for_account("acct_1", page=PageRequest(3))
        second = await uow.payments.list_for_account(
            "acct_1", page=PageRequest(3, first.next_page_token)
        )
        with pytest.raises(InvalidArgument):
            await uow.refunds.list_for_account("acct_1", page=PageRequest(3, first.next_page_token))

    assert [p.id for p in first.items + second.items] == [p.id for p in reversed(made)]
    assert second.is_last


async def test_pending_payments_are_listed_oldest_first(factory: FakeUnitOfWorkFactory) -> None:
    start = utcnow() - timedelta(minutes=5)
    old = await _stored(factory, _payment("r1", create_time=start))
    older = await _stored(factory, _payment("r2", create_time=start - timedelta(minutes=1)))
    await _stored(factory, _payment("r3"))  # too young
    async with factory(read_only=True) as uow:
        pending = await uow.payments.list_pending(utcnow() - timedelta(minutes=1))

    assert [p.id for p in pending] == [older.id, old.id]


async def test_the_reconciler_state_is_an_upsert(factory: FakeUnitOfWorkFactory) -> None:
    async with factory() as uow:
        await uow.reconciler_state.set("cursor", "evt_1")
        await uow.reconciler_state.set("cursor", "evt_2")
        await uow.commit()
    async with factory(read_only=True) as uow:
        assert await uow.reconciler_state.get("cursor") == "evt_2"

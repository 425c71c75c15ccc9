"""Races: row locks serialize read-modify-write; duplicate events; SKIP LOCKED claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.states import PaymentState, WebhookEventState

from . import builders as b


async def test_get_for_update_serializes_read_modify_write(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    p = b.payment(None, state=PaymentState.SUCCEEDED, amount_received=1000, amount_capturable=0)
    async with uow_factory() as uow:
        await uow.payments.add(p)
        await uow.commit()

    async def refund_100() -> None:
        async with uow_factory() as uow:
            locked = await uow.payments.get_for_update(p.id)
            assert locked is not None
            await asyncio.sleep(0.02)  # widen the window a lost update would need
            locked.amount_refunded += 100
            await uow.payments.update(locked)
            await uow.commit()

    await asyncio.gather(*(refund_100() for _ in range(5)))
    async with uow_factory() as uow:
        stored = await uow.payments.get(p.id)
    assert stored is not None
    assert (stored.amount_refunded, stored.version) == (500, 5)


async def test_unlocked_read_modify_write_loses_the_race_on_postgresql(
    uow_factory: SqlUnitOfWorkFactory, db_backend: str
) -> None:
    """The control experiment: without the row lock, PostgreSQL lets both read version 0."""
    if db_backend != "postgresql":
        pytest.skip("SQLite write transactions serialize at BEGIN IMMEDIATE anyway")
    from payment_service.domain.errors import Aborted

    p = b.payment(None, state=PaymentState.SUCCEEDED, amount_received=1000, amount_capturable=0)
    async with uow_factory() as uow:
        await uow.payments.add(p)
        await uow.commit()
    both_read = asyncio.Barrier(2)

    async def refund_100() -> None:
        async with uow_factory() as uow:
            unlocked = await uow.payments.get(p.id)
            assert unlocked is not None
            await both_read.wait()
            unlocked.amount_refunded += 100
            await uow.payments.update(unlocked)
            await uow.commit()

    results = await asyncio.gather(refund_100(), refund_100(), return_exceptions=True)
    assert sum(isinstance(r, Aborted) for r in results) == 1


async def test_read_only_unit_does_not_wait_for_a_writer(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c = b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.commit()
    async with uow_factory() as writer:
        await writer.customers.add(b.customer())
        async with uow_factory(read_only=True) as reader:
            assert await asyncio.wait_for(reader.customers.get(c.id), timeout=2) == c


async def test_duplicate_webhook_inserts_race_to_exactly_one(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first = b.webhook_event()

    async def insert(delay: float) -> bool:
        async with uow_factory() as uow:
            event = b.webhook_event(stripe_event_id=first.stripe_event_id)
            inserted = await uow.webhook_events.insert_if_new(event)
            await asyncio.sleep(delay)
            await uow.commit()
            return inserted

    results = await asyncio.gather(insert(0.05), insert(0.0), insert(0.01))
    assert sorted(results) == [False, False, True]


async def test_claim_due_skips_rows_another_worker_holds(
    uow_factory: SqlUnitOfWorkFactory, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serializes whole write transactions")
    events = [b.webhook_event(next_attempt_at=b.T0 + timedelta(seconds=i)) for i in range(3)]
    async with uow_factory() as uow:
        for event in events:
            await uow.webhook_events.insert_if_new(event)
        await uow.commit()
    now = b.T0 + timedelta(minutes=1)
    async with uow_factory() as worker_1:
        mine = await worker_1.webhook_events.claim_due(now, 1)
        assert [e.id for e in mine] == [events[0].id]
        async with uow_factory() as worker_2:
            theirs = await asyncio.wait_for(worker_2.webhook_events.claim_due(now, 10), 2)
        assert [e.id for e in theirs] == [events[1].id, events[2].id]
        mine[0].mark_processed(now)
        await worker_1.webhook_events.update(mine[0])
        await worker_1.commit()
    async with uow_factory() as uow:
        stored = await uow.webhook_events.get(events[0].id)
        assert stored is not None
        assert stored.state is WebhookEventState.PROCESSED

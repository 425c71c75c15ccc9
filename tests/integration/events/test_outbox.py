"""The outbox on every backend: an event row beside each state change, in its transaction;
positions read in order without skipping a row committed late (PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from payments.v1 import payment_service_pb2 as pay_pb
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.repositories.outbox import (
    AFTER_WRITE,
    BEFORE_WRITE,
    SqlOutboxReader,
    use_outbox,
)
from payment_service.adapters.db.tables import event_outbox
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.api.grpc.event_servicer import encode_snapshot, event_to_proto
from payment_service.app.ports.failpoints import NO_FAILPOINTS
from payment_service.app.ports.outbox import EventQuery, OutboxEvent
from payment_service.domain.states import (
    InvoiceState,
    PaymentMethodState,
    PaymentRefundState,
    PaymentState,
    RefundState,
    SubscriptionState,
)
from tests.integration.db import builders as b


class Crash(Exception):
    pass


class CrashAt:
    def __init__(self, name: str) -> None:
        self.name = name

    def hit(self, name: str) -> None:
        if name == self.name:
            raise Crash(name)


@pytest.fixture(autouse=True)
def _snapshots() -> Iterator[None]:
    use_outbox(encoder=encode_snapshot, failpoints=NO_FAILPOINTS)
    yield
    use_outbox(failpoints=NO_FAILPOINTS)


async def _events(engine: AsyncEngine, object_id: str | None = None) -> list[OutboxEvent]:
    rows = await SqlOutboxReader(engine).read(EventQuery(limit=1000))
    return [e for e in rows if object_id is None or e.object_id == object_id]


async def _types(engine: AsyncEngine, object_id: str) -> list[str]:
    return [e.type for e in await _events(engine, object_id)]


async def test_payment_created_then_each_state_change_once(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c = b.customer()
    p = b.payment(c, state=PaymentState.PENDING)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payments.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.payments.get_for_update(p.id)
        assert stored is not None
        stored.state = PaymentState.SUCCEEDED
        stored.amount_received = stored.amount
        await uow.payments.update(stored)
        stored.synced_at = b.T0  # nothing callers see: no event
        await uow.payments.update(stored)
        stored.amount_refunded = 100
        assert stored.refund_state is PaymentRefundState.PARTIALLY_REFUNDED
        await uow.payments.update(stored)
        await uow.commit()
    events = await _events(uow_factory.engine, p.id)
    assert [e.type for e in events] == [
        "payment.created",
        "payment.succeeded",
        "payment.partially_refunded",
    ]
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert len({e.event_id for e in events}) == 3
    assert all(e.account_id == c.account_id and e.object_type == "payment" for e in events)
    succeeded = event_to_proto(events[1])
    assert succeeded.payment.state == pay_pb.PAYMENT_STATE_SUCCEEDED
    assert succeeded.payment.id == p.id
    assert succeeded.payment.amount == p.amount


async def test_an_update_of_an_object_loaded_elsewhere_reads_its_before_state(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c = b.customer()
    p = b.payment(c, state=PaymentState.REQUIRES_CAPTURE)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payments.add(p)
        await uow.commit()
    p.state = PaymentState.SUCCEEDED  # the entity from the first unit of work
    async with uow_factory() as uow:
        await uow.payments.update(p)
        await uow.commit()
    assert await _types(uow_factory.engine, p.id) == [
        "payment.created",
        "payment.requires_capture",
        "payment.captured",
    ]


async def test_refund_method_subscription_invoice_events(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c = b.customer()
    p = b.payment(c, state=PaymentState.SUCCEEDED)
    method = b.payment_method(c)
    price = b.price()
    sub = b.subscription(c, price, state=SubscriptionState.ACTIVE)
    inv = b.invoice(c, sub, state=InvoiceState.OPEN)
    r = b.refund(p, state=RefundState.PENDING)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        for repo, row in (
            (uow.payments, p),
            (uow.payment_methods, method),
            (uow.prices, price),
            (uow.subscriptions, sub),
            (uow.invoices, inv),
            (uow.refunds, r),
        ):
            await repo.add(row)  # type: ignore[attr-defined]
        await uow.commit()
    async with uow_factory() as uow:
        for step in ("refund", "method", "sub", "invoice"):
            if step == "refund":
                got_r = await uow.refunds.get_for_update(r.id)
                assert got_r is not None
                got_r.state = RefundState.SUCCEEDED
                await uow.refunds.update(got_r)
            elif step == "method":
                got_m = await uow.payment_methods.get(method.id)
                assert got_m is not None
                got_m.state = PaymentMethodState.DETACHED
                await uow.payment_methods.update(got_m)
            elif step == "sub":
                got_s = await uow.subscriptions.get_for_update(sub.id)
                assert got_s is not None
                got_s.state = SubscriptionState.PAST_DUE
                await uow.subscriptions.update(got_s)
            else:
                got_i = await uow.invoices.get_for_update(inv.id)
                assert got_i is not None
                got_i.state = InvoiceState.PAID
                await uow.invoices.update(got_i)
        await uow.commit()
    engine = uow_factory.engine
    assert await _types(engine, r.id) == ["refund.created", "refund.succeeded"]
    assert await _types(engine, method.id) == [
        "payment_method.attached",
        "payment_method.detached",
    ]
    assert await _types(engine, sub.id) == [
        "subscription.created",
        "subscription.active",
        "subscription.past_due",
    ]
    assert await _types(engine, inv.id) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    ]
    assert await _types(engine, price.id) == []  # prices have no events


@pytest.mark.parametrize("point", [BEFORE_WRITE, AFTER_WRITE])
async def test_no_change_without_its_event_nor_event_without_its_change(
    uow_factory: SqlUnitOfWorkFactory, point: str
) -> None:
    """A crash between the change's write and its event's (or after both, before the
    commit) leaves neither: they are one transaction."""
    c = b.customer()
    p = b.payment(c, state=PaymentState.REQUIRES_CAPTURE)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payments.add(p)
        await uow.commit()
    before = await _events(uow_factory.engine)
    use_outbox(failpoints=CrashAt(point))

    async def capture() -> None:
        async with uow_factory() as uow:
            stored = await uow.payments.get_for_update(p.id)
            assert stored is not None
            stored.state = PaymentState.SUCCEEDED
            await uow.payments.update(stored)
            await uow.commit()

    with pytest.raises(Crash):
        await capture()
    use_outbox(failpoints=NO_FAILPOINTS)
    async with uow_factory() as uow:
        again = await uow.payments.get(p.id)
    assert again is not None
    assert again.state is PaymentState.REQUIRES_CAPTURE
    assert await _events(uow_factory.engine) == before
    # ...and the same change without the crash commits both.
    async with uow_factory() as uow:
        stored = await uow.payments.get_for_update(p.id)
        assert stored is not None
        stored.state = PaymentState.SUCCEEDED
        await uow.payments.update(stored)
        await uow.commit()
    assert await _types(uow_factory.engine, p.id) == [
        "payment.created",
        "payment.requires_capture",
        "payment.captured",
    ]


async def test_the_horizon_waits_for_a_position_committed_late(
    uow_factory: SqlUnitOfWorkFactory, db_backend: str
) -> None:
    """Transaction A takes position n, B takes n+1 and commits first: a reader must not
    pass n+1 before A ends (else n, committed later, would be skipped)."""
    if db_backend != "postgresql":
        pytest.skip("SQLite writers hold the database lock until they commit: no overlap")
    engine = uow_factory.engine
    reader = SqlOutboxReader(engine)
    c1, c2 = b.customer(), b.customer()
    start = await reader.horizon()
    first = uow_factory()
    await first.__aenter__()
    try:
        await first.customers.add(c1)
        await first.payments.add(b.payment(c1, state=PaymentState.PENDING))
        async with uow_factory() as second:
            await second.customers.add(c2)
            await second.payments.add(b.payment(c2, state=PaymentState.PENDING))
            await second.commit()
        top = int((await _max_position(engine)) or 0)
        assert top > start  # B's row is visible...
        assert await reader.horizon() < top  # ...yet the horizon stays below A's position
        await first.commit()
    finally:
        await first.__aexit__(None, None, None)
    horizon = 0
    for _ in range(50):
        horizon = await reader.horizon()
        if horizon >= top:
            break
        await asyncio.sleep(0.02)
    assert horizon >= top
    rows = await reader.read(EventQuery(after=start, up_to=horizon))
    assert len(rows) == 2
    assert rows[0].position < rows[1].position


async def _max_position(engine: AsyncEngine) -> int | None:
    async with engine.connect() as conn:
        value = await conn.scalar(sa.select(sa.func.max(event_outbox.c.position)))
    return None if value is None else int(value)


async def test_a_reader_following_concurrent_writers_misses_no_position(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Writers commit concurrently (positions commit out of order on PostgreSQL); a
    reader that follows the horizon sees every row exactly once, in position order."""
    engine = uow_factory.engine
    reader = SqlOutboxReader(engine)
    start = await reader.horizon()
    done = asyncio.Event()

    async def writer(account: str) -> None:
        c = b.customer(account)
        async with uow_factory() as uow:
            await uow.customers.add(c)
            await uow.commit()
        for _ in range(15):
            async with uow_factory() as uow:
                for _ in range(2):
                    await uow.payments.add(b.payment(c, state=PaymentState.PENDING))
                    await asyncio.sleep(0)  # let the other writers interleave
                await uow.commit()

    async def follow() -> list[int]:
        seen: list[int] = []
        after = start
        while True:
            finished = done.is_set()
            horizon = await reader.horizon()
            rows = await reader.read(EventQuery(after=after, up_to=horizon, limit=1000))
            seen += [row.position for row in rows]
            after = rows[-1].position if rows else after
            if finished and after >= (await _max_position(engine) or 0):
                return seen
            await asyncio.sleep(0.005)

    following = asyncio.ensure_future(follow())
    await asyncio.gather(*(writer(f"acct_follow_{i}_{b.new_id('x')}") for i in range(4)))
    done.set()
    seen = await asyncio.wait_for(following, 30)
    async with engine.connect() as conn:
        stored = list(
            await conn.scalars(
                sa.select(event_outbox.c.position)
                .where(event_outbox.c.position > start)
                .order_by(event_outbox.c.position)
            )
        )
    assert len(stored) == 4 * 15 * 2
    assert seen == stored

"""The ingest/apply split: group commit on the request path, appliers after it.

Per object, events are applied in Stripe's order (``created``) with several appliers
running, while other objects' events go past; the same event arriving many times at
once is stored once and applied once; a batch that fails is applied one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from payment_service.adapters.db.repositories.webhook_events import (
    _lock_due_statement,
    _queue_heads_statement,
)
from payment_service.adapters.stripe import mapping
from payment_service.app.ports.events import EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.webhooks.ingest import GroupCommit, NotStored, new_record
from payment_service.app.webhooks.policy import Delivery
from payment_service.domain.clock import utcnow
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.webhooks.conftest import TEST_TYPE, Pipeline
from tests.integration.webhooks.support import (
    event,
    load_payment,
    new_event_id,
    payment_intent,
    store_payment,
    stored_events,
    webhook_audit,
)
from tests.support.webhooks import wait_settled


@contextlib.asynccontextmanager
async def appliers(pipeline: Pipeline, workers: int = 4) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    task = asyncio.create_task(pipeline.webhooks.run_appliers(workers, 0.05, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)


def _payload(evt: dict[str, object]) -> str:
    return json.dumps(evt)


async def test_events_of_one_object_apply_in_created_order_while_others_proceed(
    pipeline: Pipeline,
) -> None:
    applied: list[tuple[str, int]] = []

    async def slow(evt: RemoteEvent, _uow: UnitOfWork) -> EventOutcome:
        applied.append((evt.object_id or "", evt.created))
        await asyncio.sleep(0.005)  # long enough for the other appliers to try their luck
        return EventOutcome.applied(detail="ok")

    pipeline.extra[TEST_TYPE] = slow
    now = int(time.time())
    ordered = [
        event(TEST_TYPE, {"id": "thing_o", "object": "thing"}, created=now + n) for n in range(6)
    ]
    others = [event(TEST_TYPE, {"id": f"thing_{n}", "object": "thing"}) for n in range(12)]
    # Stored newest first, interleaved with other objects' events.
    mixed = [e for pair in zip(reversed(ordered), others[:6], strict=True) for e in pair]
    for evt in [*mixed, *others[6:]]:
        assert await pipeline.webhooks.accept(_payload(evt)) is Delivery.ACCEPTED
    async with appliers(pipeline):
        for evt in [*ordered, *others]:
            record = await wait_settled(pipeline.uow_factory, evt["id"])
            assert record.state is WebhookEventState.PROCESSED
    of_one = [created for object_id, created in applied if object_id == "thing_o"]
    assert of_one == [now + n for n in range(6)]
    assert sorted(o for o, _ in applied if o != "thing_o") == sorted(
        f"thing_{n}" for n in range(12)
    )
    # The other objects did not wait for thing_o's queue to drain.
    assert applied.index(next(a for a in applied if a[0] != "thing_o")) < len(applied) - 1


async def test_the_same_event_at_once_is_stored_once_and_applied_once(pipeline: Pipeline) -> None:
    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_burst_1")
    evt = event(
        "payment_intent.succeeded", payment_intent("pi_burst_1", "succeeded", payment_id=payment.id)
    )
    payload = _payload(evt)
    async with appliers(pipeline):
        answers = await asyncio.gather(*(pipeline.webhooks.accept(payload) for _ in range(25)))
        assert sorted(answers) == sorted([Delivery.ACCEPTED] + [Delivery.DUPLICATE] * 24)
        record = await wait_settled(pipeline.uow_factory, evt["id"])
    assert record.state is WebhookEventState.PROCESSED
    assert len(await stored_events(pipeline.uow_factory)) == 1
    stored = await load_payment(pipeline.uow_factory, payment.id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.version == payment.version + 1
    assert len(await webhook_audit(pipeline.uow_factory, "payment_intent", "pi_burst_1")) == 1
    assert pipeline.count("payment_intent.succeeded", "duplicate") == 24


async def test_deliveries_arriving_together_share_a_commit_and_each_is_answered(
    pipeline: Pipeline,
) -> None:
    pipeline.extra[TEST_TYPE] = lambda evt, _uow: _applied()
    events = [event(TEST_TYPE, {"id": f"thing_g{n}", "object": "thing"}) for n in range(40)]
    answers = await asyncio.gather(*(pipeline.webhooks.accept(_payload(e)) for e in events))
    assert answers == [Delivery.ACCEPTED] * 40
    assert len(await stored_events(pipeline.uow_factory)) == 40
    async with appliers(pipeline, workers=2):
        for evt in events:
            assert (await wait_settled(pipeline.uow_factory, evt["id"])).state is (
                WebhookEventState.PROCESSED
            )


async def _applied() -> EventOutcome:
    return EventOutcome.applied(detail="ok")


async def test_a_bad_event_in_a_batch_holds_up_no_other(pipeline: Pipeline) -> None:
    async def picky(evt: RemoteEvent, _uow: UnitOfWork) -> EventOutcome:
        if evt.object_id == "thing_bad":
            raise RuntimeError("this one is broken")
        return EventOutcome.applied(detail="ok")

    pipeline.extra[TEST_TYPE] = picky
    ids = [f"thing_b{n}" for n in range(8)] + ["thing_bad"]
    events = [event(TEST_TYPE, {"id": i, "object": "thing"}) for i in ids]
    for evt in events:
        await pipeline.webhooks.accept(_payload(evt))
    assert await pipeline.webhooks.retry_due() == 9  # one claimed batch: fails, then one by one
    states = {e.object_id: e.state for e in await stored_events(pipeline.uow_factory)}
    assert states.pop("thing_bad") is WebhookEventState.FAILED
    assert set(states.values()) == {WebhookEventState.PROCESSED}


async def test_a_failed_store_answers_every_waiter_not_stored() -> None:
    """Nothing is acknowledged unless durable: a batch that cannot be stored fails
    every delivery in it (the endpoint answers 503 to each, Stripe retries)."""

    def broken(read_only: bool = False) -> object:
        raise ConnectionError("database away")

    batcher = GroupCommit(broken)  # type: ignore[arg-type]
    records = [
        new_record("{}", mapping.to_event(event(TEST_TYPE, event_id=new_event_id())))
        for _ in range(5)
    ]
    results = await asyncio.gather(*(batcher.store(r) for r in records), return_exceptions=True)
    assert all(isinstance(r, NotStored) for r in results)


async def test_a_batch_writes_each_event_its_record_and_its_audit_row(pipeline: Pipeline) -> None:
    """The batch's record updates and audit rows go out one statement each; every event
    still ends with its own state, time, audit row and payment change."""
    payments = [
        await store_payment(pipeline.uow_factory, stripe_payment_intent_id=f"pi_batch_{n}")
        for n in range(5)
    ]
    events = [
        event(
            "payment_intent.succeeded",
            payment_intent(f"pi_batch_{n}", "succeeded", payment_id=payment.id),
        )
        for n, payment in enumerate(payments)
    ]
    unknown = event("some.future.type", {"id": "obj_batch", "object": "thing"})
    for evt in [*events, unknown]:
        assert await pipeline.webhooks.accept(_payload(evt)) is Delivery.ACCEPTED
    assert await pipeline.webhooks.retry_due() == 6  # one claimed batch, one transaction
    records = {r.stripe_event_id: r for r in await stored_events(pipeline.uow_factory)}
    assert records[unknown["id"]].state is WebhookEventState.IGNORED
    for n, (evt, payment) in enumerate(zip(events, payments, strict=True)):
        record = records[evt["id"]]
        assert record.state is WebhookEventState.PROCESSED
        assert record.processed_at is not None
        assert (await load_payment(pipeline.uow_factory, payment.id)).state is (
            PaymentState.SUCCEEDED
        )
        [entry] = await webhook_audit(pipeline.uow_factory, "payment_intent", f"pi_batch_{n}")
        assert (entry.outcome, entry.detail["stripe_event_id"]) == ("ok", evt["id"])
    assert await pipeline.webhooks.retry_due() == 0  # nothing left due


async def test_while_the_ingest_is_busy_appliers_hold_back_a_bounded_while(
    pipeline: Pipeline,
) -> None:
    """Under a stream of deliveries the appliers take only events stored DEFER_S ago (the
    request path goes first on one core); each is still applied soon after."""
    from payment_service.app.webhooks.retrier import DEFER_S
    from payment_service.app.webhooks.wakeup import BUSY_EVENTS, BUSY_WINDOW_S

    pipeline.extra[TEST_TYPE] = lambda evt, _uow: _applied()
    wakeup = pipeline.webhooks.retrier.wakeup
    first = event(TEST_TYPE, {"id": "thing_busy", "object": "thing"})
    assert await pipeline.webhooks.accept(_payload(first)) is Delivery.ACCEPTED
    wakeup.stored(BUSY_EVENTS)  # as if a stream of deliveries were arriving
    assert wakeup.ingest_busy()
    started = time.monotonic()
    async with appliers(pipeline, workers=2):
        await asyncio.sleep(BUSY_WINDOW_S / 2)
        [record] = await stored_events(pipeline.uow_factory)
        assert record.state is WebhookEventState.RECEIVED  # held back while busy
        record = await wait_settled(pipeline.uow_factory, first["id"])
    assert record.state is WebhookEventState.PROCESSED
    assert time.monotonic() - started < DEFER_S + 2


async def test_a_duplicate_does_not_wait_for_the_applier_updating_its_event(
    pipeline: Pipeline, db_backend: str
) -> None:
    """On PostgreSQL an applier's UPDATE of an event leaves an uncommitted index entry;
    inserting the same Stripe id again would wait for that applier's whole transaction,
    and the batch of deliveries beside the duplicate with it. The ingest reads the
    stored ids first, so the batch is answered while the applier still works."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: every insert waits for it anyway")
    first = event(TEST_TYPE, {"id": "thing_held", "object": "thing"})
    assert await pipeline.webhooks.accept(_payload(first)) is Delivery.ACCEPTED
    engine = pipeline.uow_factory.engine
    async with engine.connect() as applier:  # as an applier mid-batch: updated, not committed
        await applier.execute(
            text("update webhook_events set state = 'processed' where stripe_event_id = :id"),
            {"id": first["id"]},
        )
        beside = event(TEST_TYPE, {"id": "thing_beside", "object": "thing"})
        answers = await asyncio.wait_for(
            asyncio.gather(
                pipeline.webhooks.accept(_payload(first)),
                pipeline.webhooks.accept(_payload(beside)),
            ),
            timeout=5,
        )
        assert answers == [Delivery.DUPLICATE, Delivery.ACCEPTED]
        await applier.rollback()
    assert len(await stored_events(pipeline.uow_factory)) == 2


async def test_while_the_ingest_is_busy_one_applier_at_a_time_applies(pipeline: Pipeline) -> None:
    """Busy, the appliers take turns (one pass at a time, then a rest), so on one core they
    take a bounded share of it; each event is still applied."""
    from payment_service.app.webhooks.wakeup import BUSY_EVENTS, BUSY_WINDOW_S

    active = 0
    most = 0

    async def slow(evt: RemoteEvent, _uow: UnitOfWork) -> EventOutcome:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.02)
        active -= 1
        return EventOutcome.applied(detail="ok")

    pipeline.extra[TEST_TYPE] = slow
    applier = pipeline.webhooks.retrier.applier
    applier.policy = dataclasses.replace(applier.policy, batch_size=1)  # one event a pass
    events = [event(TEST_TYPE, {"id": f"thing_turn{n}", "object": "thing"}) for n in range(6)]
    for evt in events:
        assert await pipeline.webhooks.accept(_payload(evt)) is Delivery.ACCEPTED
    wakeup = pipeline.webhooks.retrier.wakeup
    arriving = asyncio.create_task(_keep_busy(wakeup, BUSY_EVENTS, BUSY_WINDOW_S))
    try:
        async with appliers(pipeline, workers=4):
            for evt in events:
                record = await wait_settled(pipeline.uow_factory, evt["id"])
                assert record.state is WebhookEventState.PROCESSED
    finally:
        arriving.cancel()
    assert most == 1


async def test_a_burst_after_a_quiet_spell_is_claimed_without_rescanning_the_queue(
    pipeline: Pipeline, db_backend: str
) -> None:
    """After a quiet spell PostgreSQL's statistics say RECEIVED events are rare. A burst
    must still be claimed in one pass over the queue: a per-candidate look at every
    waiting event (2,000 x 2,000 rows, two seconds a claim) would stall the appliers.
    Counts the rows the plan touches (EXPLAIN ANALYZE), not the time."""
    if db_backend != "postgresql":
        pytest.skip("the plan and its statistics are PostgreSQL's")
    burst = 1000
    events = [event(TEST_TYPE, {"id": f"thing_q{n}", "object": "thing"}) for n in range(burst)]
    answers = await asyncio.gather(*(pipeline.webhooks.accept(_payload(e)) for e in events))
    assert set(answers) == {Delivery.ACCEPTED}
    async with pipeline.uow_factory.engine.begin() as conn:  # the quiet spell: all applied
        await conn.execute(text("update webhook_events set state = 'processed'"))
        await conn.execute(text("analyze webhook_events"))
        await conn.execute(text("update webhook_events set state = 'received'"))  # the burst
    now = utcnow()
    heads = await _explained(pipeline, _queue_heads_statement(), w_now=now, w_limit=50)
    assert heads["Actual Rows"] == 50
    assert _touched(heads) < 20 * burst
    ids = [f"whe_{n}" for n in range(50)]  # a look-up by id, whatever ids
    lock = await _explained(pipeline, _lock_due_statement(), w_ids=ids, w_now=now, w_limit=50)
    assert _touched(lock) < 20 * 50
    async with pipeline.uow_factory() as uow:
        assert len(await uow.webhook_events.claim_due(now, 50)) == 50


async def _explained(pipeline: Pipeline, statement: Any, **values: Any) -> dict[str, Any]:
    """The root of ``statement``'s EXPLAIN ANALYZE plan on PostgreSQL."""
    from sqlalchemy.dialects import postgresql

    compiled = statement.params(**values).compile(dialect=postgresql.dialect())
    expanded = compiled.construct_expanded_state()
    async with pipeline.uow_factory.engine.connect() as conn:
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + expanded.statement
        plan = (await conn.exec_driver_sql(explain, expanded.parameters)).scalar_one()
        await conn.rollback()
    root: dict[str, Any] = plan[0]["Plan"]
    return root


def _touched(node: dict[str, Any]) -> float:
    """Rows the plan read or compared, every loop counted."""
    rows = float(node["Actual Rows"]) * float(node["Actual Loops"])
    removed = float(node.get("Rows Removed by Join Filter", 0))
    return rows + removed + sum(_touched(child) for child in node.get("Plans", []))


async def test_appliers_claiming_at_once_each_get_a_full_batch_of_their_own(
    pipeline: Pipeline, db_backend: str
) -> None:
    """The queue's heads are read without locks, so claimers at the same moment read the
    same ones; each still locks a batch of its own (the rows others hold are skipped)
    instead of coming back empty and idling until the next wake-up."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: claims never overlap")
    events = [event(TEST_TYPE, {"id": f"thing_c{n}", "object": "thing"}) for n in range(40)]
    answers = await asyncio.gather(*(pipeline.webhooks.accept(_payload(e)) for e in events))
    assert set(answers) == {Delivery.ACCEPTED}
    retrier = pipeline.webhooks.retrier
    batches = await asyncio.gather(*(retrier.claim(10) for _ in range(4)))
    assert [len(batch) for batch in batches] == [10, 10, 10, 10]
    claimed = [record.id for batch in batches for record in batch]
    assert len(set(claimed)) == 40


async def test_the_backlog_gauges_stay_fresh_while_the_ingest_is_busy(pipeline: Pipeline) -> None:
    """A burst is when the waiting-events gauges matter most: the appliers' turns while
    deliveries arrive still refresh them."""
    from payment_service.app.webhooks.wakeup import BUSY_EVENTS, BUSY_WINDOW_S

    retrier = pipeline.webhooks.retrier
    counted = 0
    count_backlog = retrier.backlog

    async def counting() -> object:
        nonlocal counted
        counted += 1
        return await count_backlog()

    retrier.backlog = counting
    arriving = asyncio.create_task(_keep_busy(retrier.wakeup, BUSY_EVENTS, BUSY_WINDOW_S))
    try:
        async with appliers(pipeline, workers=2):
            await asyncio.sleep(1.0)
            assert retrier.wakeup.ingest_busy()
    finally:
        arriving.cancel()
    assert counted >= 2


async def _keep_busy(wakeup: Any, events: int, window_s: float) -> None:
    """As if deliveries kept arriving: ``events`` stored four times a window."""
    while True:
        wakeup.stored(events)
        await asyncio.sleep(window_s / 4)

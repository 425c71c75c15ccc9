"""Retries that outlast an outage: replay with a fresh budget, transient deaths re-queued,
the FAILED/DEAD gauges, ignored events replayable, and a claim that outlived its lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from payment_service.app.ports.events import EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.webhooks.policy import Delivery
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import Unavailable
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import WebhookEventState
from tests.integration.webhooks.conftest import TEST_TYPE, Endpoint, Pipeline
from tests.integration.webhooks.support import event, signed, stored_events


async def _until(pipeline: Pipeline, state: WebhookEventState) -> None:
    for _ in range(100):
        await pipeline.webhooks.retry_due()
        [record] = await stored_events(pipeline.uow_factory)
        if record.state is state:
            return
        await asyncio.sleep(0.03)
    raise AssertionError(f"the event never became {state.value}")


def _failing(error: Exception, calls: list[str]) -> object:
    async def handler(evt: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        calls.append(evt.stripe_id)
        raise error

    return handler


async def test_replay_gives_a_fresh_retry_budget(endpoint: Endpoint, pipeline: Pipeline) -> None:
    calls: list[str] = []
    pipeline.extra[TEST_TYPE] = _failing(RuntimeError("still broken"), calls)  # type: ignore[assignment]
    await endpoint.deliver(*signed(event(TEST_TYPE, {"id": "thing_1", "object": "thing"})))
    await _until(pipeline, WebhookEventState.DEAD)
    [dead] = await stored_events(pipeline.uow_factory)
    assert dead.attempts == 3

    replayed = await pipeline.webhooks.replay(dead.stripe_event_id)
    # Still failing, but with its attempts counted from zero: retried again, not dead at once.
    assert (replayed.state, replayed.attempts) == (WebhookEventState.FAILED, 1)


async def test_dead_of_a_transient_error_is_queued_again_and_gauged(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    calls: list[str] = []
    pipeline.extra[TEST_TYPE] = _failing(Unavailable("Stripe is away"), calls)  # type: ignore[assignment]
    await endpoint.deliver(*signed(event(TEST_TYPE, {"id": "thing_2", "object": "thing"})))
    await _until(pipeline, WebhookEventState.DEAD)
    backlog = await pipeline.webhooks.backlog()
    assert backlog[WebhookEventState.DEAD][0] == 1
    assert (
        pipeline.metrics.get_sample_value("stripe_webhook_backlog_events", {"state": "dead"}) == 1.0
    )
    assert (
        pipeline.metrics.get_sample_value(
            "stripe_webhook_backlog_oldest_age_seconds", {"state": "dead"}
        )
        or 0.0
    ) >= 0.0

    async def fixed(evt: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        return EventOutcome.applied(detail="Stripe is back")

    pipeline.extra[TEST_TYPE] = fixed
    requeued, left = await pipeline.webhooks.requeue_transient_dead(
        created_after=utcnow() - timedelta(days=7)
    )
    assert (requeued, left) == (1, [])
    [record] = await stored_events(pipeline.uow_factory)
    assert (record.state, record.attempts) == (WebhookEventState.RECEIVED, 0)
    await _until(pipeline, WebhookEventState.PROCESSED)
    assert (await pipeline.webhooks.backlog())[WebhookEventState.DEAD][0] == 0


async def test_dead_of_a_bug_stays_dead_for_an_operator(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    calls: list[str] = []
    pipeline.extra[TEST_TYPE] = _failing(RuntimeError("bug"), calls)  # type: ignore[assignment]
    await endpoint.deliver(*signed(event(TEST_TYPE, {"id": "thing_3", "object": "thing"})))
    await _until(pipeline, WebhookEventState.DEAD)
    requeued, left = await pipeline.webhooks.requeue_transient_dead(
        created_after=utcnow() - timedelta(days=7)
    )
    assert requeued == 0
    assert [e.state for e in left] == [WebhookEventState.DEAD]


async def test_billing_events_stored_as_ignored_can_be_replayed(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    evt = event("invoice.paid")
    assert await endpoint.deliver(*signed(evt)) == "ignored"
    [stored] = await stored_events(pipeline.uow_factory)
    assert stored.state is WebhookEventState.IGNORED

    replayed = await pipeline.webhooks.replay(str(evt["id"]))
    assert replayed.state is WebhookEventState.IGNORED  # still no handler: stored again
    assert await pipeline.webhooks.requeue_ignored(["invoice.paid"]) == 1
    [queued] = await stored_events(pipeline.uow_factory)
    assert queued.state is WebhookEventState.RECEIVED
    assert await pipeline.webhooks.retry_due() == 1


async def test_an_attempt_that_outlived_its_lease_applies_nothing(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    from payment_service.app.common.stripe_reads import fetched

    calls: list[str] = []
    pipeline.extra[TEST_TYPE] = _failing(RuntimeError("first try fails"), calls)  # type: ignore[assignment]
    await endpoint.deliver(*signed(event(TEST_TYPE, {"id": "thing_4", "object": "thing"})))
    [failed] = await stored_events(pipeline.uow_factory)
    assert failed.state is WebhookEventState.FAILED
    applied: list[str] = []

    async def another_replica_takes_over() -> str:
        # A slow Stripe read: meanwhile the lease ran out and another replica claimed it.
        async with pipeline.uow_factory() as uow:
            record = await uow.webhook_events.get(failed.id)
            assert record is not None
            record.next_attempt_at = utcnow() + timedelta(minutes=5)
            await uow.webhook_events.update(record)
            await uow.commit()
        return "read"

    async def slow(evt: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        await fetched("slow-read", another_replica_takes_over)
        applied.append(evt.stripe_id)
        return EventOutcome.applied(detail="applied")

    pipeline.extra[TEST_TYPE] = slow
    await asyncio.sleep(0.1)  # due again
    claimed = await pipeline.webhooks.retrier.claim(10)
    assert [c.id for c in claimed] == [failed.id]
    assert await pipeline.webhooks.retrier.attempt(claimed[0]) is Delivery.SKIPPED
    assert applied == []
    [record] = await stored_events(pipeline.uow_factory)
    assert record.state is WebhookEventState.FAILED

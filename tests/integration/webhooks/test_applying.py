"""Applying events: order safety, objects not stored yet, failures, retries, dead events, replay."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.webhooks.policy import Delivery
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.webhooks.conftest import TEST_TYPE, Endpoint, Pipeline
from tests.integration.webhooks.support import (
    event,
    load_payment,
    payment_intent,
    signed,
    store_payment,
    stored_events,
    webhook_audit,
)
from tests.support.webhooks import ANSWERED_200

FLAKY = TEST_TYPE


async def _retry_until_settled(pipeline: Pipeline, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        await pipeline.webhooks.retry_due()
        events = await stored_events(pipeline.uow_factory)
        if all(
            e.state not in (WebhookEventState.RECEIVED, WebhookEventState.FAILED) for e in events
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"events not settled: {await stored_events(pipeline.uow_factory)}")


async def test_applied_event_updates_the_payment_audits_and_drops_its_cache_entry(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_apply_1")
    evt = event(
        "payment_intent.succeeded", payment_intent("pi_apply_1", "succeeded", payment_id=payment.id)
    )
    assert await endpoint.deliver(*signed(evt)) == "applied"
    stored = await load_payment(pipeline.uow_factory, payment.id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.amount_received == 1050
    assert f"payment:{payment.id}" in pipeline.cache.deleted
    [entry] = await webhook_audit(pipeline.uow_factory, "payment_intent", "pi_apply_1")
    assert entry.action == "webhook.payment_intent.succeeded"
    assert entry.outcome == "ok"
    assert entry.detail["stripe_event_id"] == evt["id"]
    [record] = await stored_events(pipeline.uow_factory)
    assert record.state is WebhookEventState.PROCESSED
    assert record.attempts == 1
    assert record.processed_at is not None


@pytest.mark.parametrize(
    "late_status", ["processing", "requires_action", "requires_payment_method"]
)
@pytest.mark.parametrize("late_by_s", [0, 5])
async def test_succeeded_then_a_late_event_stays_succeeded(
    endpoint: Endpoint, pipeline: Pipeline, late_status: str, late_by_s: int
) -> None:
    pi_id = f"pi_late_{late_status}_{late_by_s}"
    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id=pi_id)
    now = int(time.time())
    succeeded = event(
        "payment_intent.succeeded",
        payment_intent(pi_id, "succeeded", payment_id=payment.id),
        created=now,
    )
    late = event(
        f"payment_intent.{late_status}",
        payment_intent(pi_id, late_status, payment_id=payment.id),
        created=now - late_by_s,
    )
    assert await endpoint.deliver(*signed(succeeded)) in ANSWERED_200
    cache_deletes = len(pipeline.cache.deleted)
    assert await endpoint.deliver(*signed(late)) == "ignored"
    stored = await load_payment(pipeline.uow_factory, payment.id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.amount_received == 1050
    assert len(pipeline.cache.deleted) == cache_deletes


async def test_processing_then_succeeded_out_of_order_converges(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_order_1")
    now = int(time.time())
    later = event(
        "payment_intent.succeeded",
        payment_intent("pi_order_1", "succeeded", payment_id=payment.id),
        created=now,
    )
    earlier = event(
        "payment_intent.processing",
        payment_intent("pi_order_1", "processing", payment_id=payment.id),
        created=now - 3,
    )
    for evt in (later, earlier, later):
        assert await endpoint.deliver(*signed(evt)) in ANSWERED_200
    assert (await load_payment(pipeline.uow_factory, payment.id)).state is PaymentState.SUCCEEDED


async def test_event_before_the_payment_exists_is_applied_once_it_does(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    from payment_service.domain.ids import new_id

    payment_id = new_id("pay")
    evt = event(
        "payment_intent.succeeded", payment_intent("pi_early_1", "succeeded", payment_id=payment_id)
    )
    assert await endpoint.deliver(*signed(evt)) == "deferred"
    [record] = await stored_events(pipeline.uow_factory)
    assert record.state is WebhookEventState.FAILED
    assert record.attempts == 1
    assert "ObjectNotYetKnown" in (record.last_error or "")
    assert record.next_attempt_at is not None
    # Our own commit lands (PENDING, not yet linked to its PaymentIntent).
    await store_payment(
        pipeline.uow_factory,
        id=payment_id,
        state=PaymentState.PENDING,
        stripe_payment_intent_id=None,
    )
    await _retry_until_settled(pipeline)
    stored = await load_payment(pipeline.uow_factory, payment_id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.stripe_payment_intent_id == "pi_early_1"
    [record] = await stored_events(pipeline.uow_factory)
    assert record.state is WebhookEventState.PROCESSED
    assert record.attempts == 2


async def test_payment_intent_not_made_by_us_is_stored_and_ignored(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    evt = event("payment_intent.succeeded", payment_intent("pi_dashboard_1", "succeeded"))
    assert await endpoint.deliver(*signed(evt)) == "ignored"
    [record] = await stored_events(pipeline.uow_factory)
    assert record.state is WebhookEventState.IGNORED
    assert "not created by this service" in (record.last_error or "")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": 999}, "amount 999"),
        ({"currency": "eur"}, "currency eur"),
        ({"customer": "cus_someone_else"}, "customer cus_someone_else"),
    ],
)
async def test_integrity_mismatch_is_quarantined_not_applied(
    endpoint: Endpoint, pipeline: Pipeline, change: dict[str, object], expected: str
) -> None:
    from tests.integration.webhooks.support import store_customer

    customer = await store_customer(pipeline.uow_factory)
    pi_id = f"pi_q_{next(iter(change))}"
    payment = await store_payment(pipeline.uow_factory, customer, stripe_payment_intent_id=pi_id)
    pi = payment_intent(
        pi_id, "succeeded", payment_id=payment.id, customer=customer.stripe_customer_id
    )
    pi.update(change)
    assert await endpoint.deliver(*signed(event("payment_intent.succeeded", pi))) == "quarantined"
    stored = await load_payment(pipeline.uow_factory, payment.id)
    assert stored.state is PaymentState.REQUIRES_CONFIRMATION
    assert stored.version == payment.version
    [record] = await stored_events(pipeline.uow_factory)
    assert record.state is WebhookEventState.QUARANTINED
    assert expected in (record.last_error or "")
    assert pipeline.metrics.get_sample_value("stripe_webhook_quarantined_events_total") == 1.0
    [entry] = await webhook_audit(pipeline.uow_factory, "payment_intent", pi_id)
    assert entry.outcome == "quarantined"


def _flaky(fail_times: int, calls: list[str]) -> EventHandler:
    async def handler(evt: RemoteEvent, uow: object) -> EventOutcome:
        calls.append(evt.stripe_id)
        if len(calls) <= fail_times:
            raise RuntimeError(f"boom {len(calls)}")
        return EventOutcome.applied(detail="finally")

    return handler


async def test_a_handler_that_raises_is_recorded_retried_then_applied(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    calls: list[str] = []
    pipeline.extra[FLAKY] = _flaky(1, calls)
    evt = event(FLAKY, {"id": "thing_1", "object": "thing"})
    assert await endpoint.deliver(*signed(evt)) == "deferred"
    [record] = await stored_events(pipeline.uow_factory)
    assert (record.state, record.attempts) == (WebhookEventState.FAILED, 1)
    assert record.last_error == "RuntimeError: boom 1"
    # A redelivery by Stripe is a duplicate: the retrier owns the event now.
    assert (await endpoint.post(*signed(evt)))[1]["result"] == "duplicate"
    await _retry_until_settled(pipeline)
    [record] = await stored_events(pipeline.uow_factory)
    assert (record.state, record.attempts, record.last_error) == (
        WebhookEventState.PROCESSED,
        2,
        None,
    )
    assert calls == [evt["id"], evt["id"]]
    assert pipeline.count(FLAKY, "failed") == 1
    assert pipeline.count(FLAKY, "applied") == 1


async def test_retries_exhausted_make_it_dead_and_replay_applies_it(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    calls: list[str] = []
    pipeline.extra[FLAKY] = _flaky(3, calls)  # max_attempts is 3 in these tests
    evt = event(FLAKY, {"id": "thing_2", "object": "thing"})
    assert await endpoint.deliver(*signed(evt)) == "deferred"
    await _retry_until_settled(pipeline)
    [record] = await stored_events(pipeline.uow_factory)
    assert (record.state, record.attempts) == (WebhookEventState.DEAD, 3)
    assert record.next_attempt_at is None
    assert pipeline.metrics.get_sample_value("stripe_webhook_dead_events_total") == 1.0
    assert await pipeline.webhooks.retry_due() == 0  # dead events are left alone
    replayed = await pipeline.webhooks.replay(evt["id"])
    assert replayed.state is WebhookEventState.PROCESSED
    assert len(calls) == 4


async def test_replay_of_a_processed_event_is_refused(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    from payment_service.domain.errors import FailedPrecondition

    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_replay_done")
    evt = event(
        "payment_intent.succeeded",
        payment_intent("pi_replay_done", "succeeded", payment_id=payment.id),
    )
    await endpoint.deliver(*signed(evt))
    with pytest.raises(FailedPrecondition):
        await pipeline.webhooks.replay(evt["id"])


async def test_concurrent_retriers_apply_each_event_once(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    calls: list[str] = []
    pipeline.extra[FLAKY] = _flaky(5, calls)
    ids = []
    for n in range(5):
        evt = event(FLAKY, {"id": f"thing_c{n}", "object": "thing"})
        ids.append(evt["id"])
        assert await endpoint.deliver(*signed(evt)) == "deferred"
    assert len(calls) == 5
    await asyncio.sleep(0.1)  # all due now
    await asyncio.gather(*(pipeline.webhooks.retry_due() for _ in range(4)))
    assert sorted(calls[5:]) == sorted(ids)  # each retried exactly once
    assert all(
        e.state is WebhookEventState.PROCESSED for e in await stored_events(pipeline.uow_factory)
    )


async def test_reconciler_fed_copy_of_a_delivered_event_is_a_duplicate(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    from payment_service.adapters.stripe import mapping

    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_feed_1")
    evt = event(
        "payment_intent.succeeded", payment_intent("pi_feed_1", "succeeded", payment_id=payment.id)
    )
    await endpoint.deliver(*signed(evt))
    assert await pipeline.webhooks.ingest(mapping.to_event(evt)) is Delivery.DUPLICATE
    other = event(
        "payment_intent.succeeded", payment_intent("pi_feed_1", "succeeded", payment_id=payment.id)
    )
    assert await pipeline.webhooks.ingest(mapping.to_event(other)) is Delivery.APPLIED
    records = await stored_events(pipeline.uow_factory)
    fed = next(r for r in records if r.stripe_event_id == other["id"])
    assert mapping.to_event(json.loads(fed.payload)) == mapping.to_event(other)

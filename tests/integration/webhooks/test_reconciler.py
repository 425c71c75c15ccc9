"""The reconciler against localstripe: PENDING payments, stuck payments, missed events, the lock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from payment_service.adapters.db.advisory_lock import AdvisoryLock
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.adapters.stripe.compat import page_newest_first
from payment_service.app.ports.processor import EventListing
from payment_service.app.ports.reconcile import RepairReport
from payment_service.app.reconcile.catch_up import EVENTS_CURSOR_KEY
from payment_service.app.reconcile.rules import ReconcilerRules
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import NotFound, Unavailable
from payment_service.domain.processor import EventPage, RemoteEvent
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.db import builders
from tests.integration.webhooks.stack import PaymentStack, build_stack
from tests.integration.webhooks.support import load_payment, stored_events
from tests.support.audit import audited
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy


@pytest.fixture(autouse=True)
async def recent_events_only(uow_factory: SqlUnitOfWorkFactory) -> None:
    """The catch-up starts at this test, not at the session's whole localstripe history
    (3 days' lookback of thousands of other tests' events, minutes on a busy machine)."""
    cursor = json.dumps({"created": int(utcnow().timestamp()), "id": None})
    async with uow_factory() as uow:
        await uow.reconciler_state.set(EVENTS_CURSOR_KEY, cursor)
        await uow.commit()


@pytest.fixture
def stack(uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway) -> PaymentStack:
    return build_stack(uow_factory, gateway)


def _report(reports: list[RepairReport] | None, task: str) -> RepairReport:
    assert reports is not None
    return next(r for r in reports if r.task == task)


class CrashAfterCreate:
    """Stripe creates the PaymentIntent, then the answer is lost (the process 'dies')."""

    def __init__(self, gateway: StripeGateway) -> None:
        self._gateway = gateway

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)

    async def create_payment_intent(self, *args: Any, **kwargs: Any) -> Any:
        await self._gateway.create_payment_intent(*args, **kwargs)
        raise Unavailable("connection lost after Stripe answered")


async def test_pending_payment_is_finished_with_exactly_one_payment_intent(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    crashing = build_stack(uow_factory, gateway, processor=CrashAfterCreate(gateway))  # type: ignore[arg-type]
    pm = await localstripe.create_card_payment_method()
    with pytest.raises(Unavailable):
        await crashing.create(pm)
    [pending] = await _payments_in(uow_factory, PaymentState.PENDING)
    stack = build_stack(uow_factory, gateway)
    reports = await stack.reconciler.run_once()
    assert _report(reports, "finish_pending_payments").repaired == 1
    finished = await load_payment(uow_factory, pending.id)
    assert finished.state is PaymentState.SUCCEEDED
    assert await localstripe.count_payment_intents(metadata={"payment_id": pending.id}) == 1
    assert (
        stack.metric("reconciler_repaired_objects_total", {"task": "finish_pending_payments"}) == 1
    )
    [answer] = await audited(
        uow_factory, ("payment", pending.id), via="reconciler.finish_pending_payments"
    )
    assert (answer.action, answer.outcome) == ("payments.stripe_answer", "succeeded")
    again = await stack.reconciler.run_once()
    assert _report(again, "finish_pending_payments").repaired == 0
    assert await localstripe.count_payment_intents(metadata={"payment_id": pending.id}) == 1


async def test_pending_payment_while_stripe_is_down_stays_unresolved(
    uow_factory: SqlUnitOfWorkFactory,
    proxied_gateway: StripeGateway,
    outage_proxy: OutageProxy,
    localstripe: LocalStripe,
) -> None:
    stack = build_stack(uow_factory, proxied_gateway)
    pm = await localstripe.create_card_payment_method()
    first = await stack.create(pm, confirm=False)  # the customer exists at Stripe now
    outage_proxy.down()
    with pytest.raises(Unavailable):
        await stack.create(pm, account_id=first.account_id)
    reports = await stack.reconciler.run_once()
    report = _report(reports, "finish_pending_payments")
    assert (report.repaired, report.unresolved, report.errors) == (0, 1, 1)
    assert report.oldest_unresolved_age_s >= 0
    assert stack.metric("reconciler_unresolved_objects", {"task": "finish_pending_payments"}) == 1
    outage_proxy.up()
    report = _report(await stack.reconciler.run_once(), "finish_pending_payments")
    assert (report.repaired, report.unresolved) == (1, 0)


async def test_payment_stuck_non_final_is_refreshed_from_stripe(
    stack: PaymentStack, localstripe: LocalStripe
) -> None:
    from payment_service.domain.states import CaptureMethod

    pm = await localstripe.create_card_payment_method()
    payment = await stack.create(pm, capture_method=CaptureMethod.MANUAL)
    assert payment.state is PaymentState.REQUIRES_CAPTURE
    # Captured behind our back (the dashboard); the webhook never reached us.
    await localstripe.request(
        "POST", f"/v1/payment_intents/{payment.stripe_payment_intent_id}/capture"
    )
    async with stack.uow_factory() as uow:
        stored = await uow.payments.get_for_update(payment.id)
        stored.synced_at = utcnow() - timedelta(hours=1)
        await uow.payments.update(stored)
        await uow.commit()
    report = await stack.reconciler.run_task(stack.reconciler.refresh_stuck_payments)
    assert report.repaired == 1
    refreshed = await load_payment(stack.uow_factory, payment.id)
    assert refreshed.state is PaymentState.SUCCEEDED
    assert refreshed.amount_received == 2500
    [row] = await audited(
        stack.uow_factory, ("payment", payment.id), via="reconciler.refresh_stuck_payments"
    )
    assert (row.actor, row.action, row.outcome) == ("reconciler", "payments.refresh", "succeeded")
    assert row.detail["from"] == "requires_capture"


async def test_backoff_skips_a_payment_read_recently(
    stack: PaymentStack, localstripe: LocalStripe
) -> None:
    from payment_service.domain.states import CaptureMethod

    pm = await localstripe.create_card_payment_method()
    payment = await stack.create(pm, capture_method=CaptureMethod.MANUAL)
    await localstripe.request(
        "POST", f"/v1/payment_intents/{payment.stripe_payment_intent_id}/capture"
    )
    from sqlalchemy import update

    from payment_service.adapters.db.tables import transactions

    # Stuck for 8 hours and read 90 minutes ago: the next read is due after 2 hours.
    async with stack.uow_factory() as uow:
        await uow.connection.execute(
            update(transactions)
            .where(transactions.c.id == payment.id)
            .values(
                create_time=utcnow() - timedelta(hours=8),
                synced_at=utcnow() - timedelta(minutes=90),
            )
        )
        await uow.commit()
    report = await stack.reconciler.refresh_stuck_payments()
    assert report.repaired == 0
    assert (
        await load_payment(stack.uow_factory, payment.id)
    ).state is PaymentState.REQUIRES_CAPTURE


async def test_events_missed_are_recovered_from_the_events_api(
    stack: PaymentStack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method()
    payment = await stack.create(pm, confirm=False)
    assert payment.state is not PaymentState.SUCCEEDED
    first = _report(await stack.reconciler.run_once(), "catch_up_events")
    assert first.errors == 0
    # Confirmed at Stripe directly; no webhook reaches us.
    assert payment.stripe_payment_intent_id is not None
    await stack.gateway.confirm_payment_intent(
        payment.stripe_payment_intent_id, idempotency_key=f"{payment.id}:browser", payment_method=pm
    )
    second = _report(await stack.reconciler.run_once(), "catch_up_events")
    assert second.repaired >= 1
    assert (await load_payment(stack.uow_factory, payment.id)).state is PaymentState.SUCCEEDED
    ours = [
        e
        for e in await stored_events(stack.uow_factory)
        if json.loads(e.payload)["data"]["object"].get("id") == payment.stripe_payment_intent_id
    ]
    assert "payment_intent.succeeded" in {e.type for e in ours}
    assert all(e.state is not WebhookEventState.FAILED for e in ours)
    applied = await audited(
        stack.uow_factory,
        ("payment_intent", payment.stripe_payment_intent_id),
        action="webhook.payment_intent.succeeded",
        via="reconciler.catch_up_events",
    )
    assert [row.actor for row in applied] == ["stripe"]
    # The next pass reads the overlap again: every event is a duplicate, nothing applied twice.
    third = _report(await stack.reconciler.run_once(), "catch_up_events")
    assert third.repaired == 0
    async with stack.uow_factory(read_only=True) as uow:
        cursor = json.loads(await uow.reconciler_state.get(EVENTS_CURSOR_KEY) or "{}")
    assert cursor["created"] >= ours[0].created.timestamp() - 1


async def test_extra_repair_tasks_run_and_a_failing_one_does_not_stop_the_pass(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway
) -> None:
    ran: list[str] = []

    async def extra_repair() -> RepairReport:
        ran.append("extra")
        return RepairReport(
            task="extra_repair", repaired=2, unresolved=1, oldest_unresolved_age_s=42
        )

    async def broken() -> RepairReport:
        raise RuntimeError("bug")

    stack = build_stack(uow_factory, gateway, extra_tasks=[broken, extra_repair])
    reports = await stack.reconciler.run_once()
    assert ran == ["extra"]
    assert _report(reports, "broken").errors == 1
    assert _report(reports, "extra_repair").repaired == 2
    assert stack.metric("reconciler_oldest_unresolved_age_seconds", {"task": "extra_repair"}) == 42
    assert stack.metric("reconciler_runs_total", {"result": "done"}) == 1


async def test_only_one_replica_holds_the_lock_on_postgresql(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, db_backend: str
) -> None:
    first = AdvisoryLock(uow_factory.engine, "tests.reconciler")
    second = AdvisoryLock(uow_factory.engine, "tests.reconciler")
    stack = build_stack(uow_factory, gateway)
    async with first.hold() as got_first:
        assert got_first
        async with second.hold() as got_second:
            assert got_second is (db_backend == "sqlite")
        skipped = await stack.reconciler.run_once()
        if db_backend == "postgresql":
            assert skipped is None
            assert stack.metric("reconciler_runs_total", {"result": "skipped"}) == 1
    async with second.hold() as got_after:
        assert got_after  # released when the first holder left


async def _payments_in(uow_factory: SqlUnitOfWorkFactory, state: PaymentState) -> list[Any]:
    async with uow_factory(read_only=True) as uow:
        return (
            await uow.payments.list_pending(utcnow() + timedelta(seconds=1))
            if state is PaymentState.PENDING
            else []
        )


class ManyEvents:
    """Stripe's /v1/events over a fixed list (newest first, Stripe's cursor paging); every
    other call goes to the real gateway."""

    def __init__(self, gateway: StripeGateway, events: list[RemoteEvent]) -> None:
        self._gateway = gateway
        self._oldest_first = events
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)

    async def list_events(self, listing: EventListing) -> EventPage:
        self.calls += 1
        created_after, ending_before = listing.created_after, listing.ending_before
        starting_after, limit = listing.starting_after, listing.limit
        newest_first = [
            {"id": e.stripe_id, "event": e}
            for e in reversed(self._oldest_first)
            if created_after is None or e.created > created_after
        ]
        if ending_before is not None and ending_before not in {i["id"] for i in newest_first}:
            raise NotFound("event", ending_before)
        items, has_more = page_newest_first(newest_first, starting_after, ending_before, limit)
        return EventPage(tuple(i["event"] for i in items), has_more)


async def test_a_backlog_larger_than_one_pass_is_worked_off_page_by_page(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway
) -> None:
    base = int(utcnow().timestamp()) - 3600
    anchor = RemoteEvent("evt_anchor", "test.catch_up", base, {"id": "x"}, None)
    backlog = [
        RemoteEvent(f"evt_{n:04d}", "test.catch_up", base + 1 + n, {"id": f"x{n}"}, None)
        for n in range(250)
    ]
    stripe = ManyEvents(gateway, [anchor, *backlog])
    stack = build_stack(
        uow_factory,
        gateway,
        processor=stripe,  # type: ignore[arg-type]
        rules=ReconcilerRules(pending_grace_s=0, stuck_after_s=1, max_event_pages=1),
    )
    async with uow_factory() as uow:
        cursor = json.dumps({"created": anchor.created, "id": anchor.stripe_id})
        await uow.reconciler_state.set(EVENTS_CURSOR_KEY, cursor)
        await uow.commit()

    repaired = []
    for _ in range(4):
        report = _report(await stack.reconciler.run_once(), "catch_up_events")
        assert report.errors == 0
        repaired.append(report.repaired)
    assert repaired == [100, 100, 50, 0]
    stored = {e.stripe_event_id for e in await stack.webhooks.list_events()}
    assert stored == {e.stripe_id for e in backlog}
    async with uow_factory(read_only=True) as uow:
        moved = json.loads(await uow.reconciler_state.get(EVENTS_CURSOR_KEY) or "{}")
    assert moved == {"created": backlog[-1].created, "id": backlog[-1].stripe_id}


async def test_dead_events_of_transient_errors_are_queued_again_by_the_reconciler(
    stack: PaymentStack,
) -> None:
    transient = builders.webhook_event(
        type="test.unknown",
        state=WebhookEventState.DEAD,
        attempts=450,
        last_error="ObjectNotYetKnown: payment pay_x of pi_x",
        created=utcnow() - timedelta(days=3),
    )
    bug = builders.webhook_event(
        type="test.unknown",
        state=WebhookEventState.DEAD,
        attempts=450,
        last_error="RuntimeError: bug",
        created=utcnow() - timedelta(days=3),
    )
    async with stack.uow_factory() as uow:
        await uow.webhook_events.insert_if_new(transient)
        await uow.webhook_events.insert_if_new(bug)
        await uow.commit()

    report = _report(await stack.reconciler.run_once(), "requeue_dead_events")
    assert (report.repaired, report.unresolved, report.errors) == (1, 1, 0)
    async with stack.uow_factory(read_only=True) as uow:
        requeued = await uow.webhook_events.get(transient.id)
        left = await uow.webhook_events.get(bug.id)
    assert requeued is not None
    assert left is not None
    assert (requeued.state, requeued.attempts) == (WebhookEventState.RECEIVED, 0)
    assert left.state is WebhookEventState.DEAD
    [row] = await audited(stack.uow_factory, ("webhook_event", transient.id))
    assert (row.actor, row.action, row.outcome) == ("reconciler", "webhooks.requeue", "requeued")
    assert row.detail["via"] == "reconciler.requeue_dead_events"
    assert await audited(stack.uow_factory, ("webhook_event", bug.id)) == []
    assert stack.metric("stripe_webhook_backlog_events", {"state": "dead"}) == 1
    assert stack.metric("stripe_webhook_backlog_oldest_age_seconds", {"state": "dead"}) > 0

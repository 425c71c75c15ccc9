"""Every table: what goes in comes back equal (aware UTC times, enums, JSON, bytes)."""

from __future__ import annotations

from datetime import UTC, timedelta

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.ports.list_filters import DisputeFilter
from payment_service.domain.disputes import OPEN_DISPUTE_STATES
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.states import (
    DisputeState,
    PaymentState,
    SetupIntentState,
    WebhookEventState,
)

from . import builders as b


async def test_customer_and_payment_method(uow_factory: SqlUnitOfWorkFactory) -> None:
    c = b.customer()
    m = b.payment_method(c)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payment_methods.add(m)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        assert await uow.customers.get(c.id) == c
        assert await uow.customers.get_by_account(c.account_id) == c
        assert await uow.customers.find_by_stripe_id(str(c.stripe_customer_id)) == c
        assert await uow.payment_methods.get(m.id) == m
        assert await uow.payment_methods.find_by_stripe_id(m.stripe_payment_method_id) == m
        assert await uow.customers.get("cust_missing") is None
    c.name = "Ada Lovelace"
    m.detach()
    async with uow_factory() as uow:
        await uow.customers.update(c)
        await uow.payment_methods.update(m)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.customers.get(c.id) == c
        assert await uow.payment_methods.get(m.id) == m


async def test_payment(uow_factory: SqlUnitOfWorkFactory) -> None:
    c = b.customer()
    p = b.payment(c)
    bare = b.payment(
        None,
        account_id="acct_bare",
        description=None,
        metadata={},
        stripe_payment_intent_id=None,
        remote_updated_at=None,
        synced_at=None,
        state=PaymentState.PENDING,
    )
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payments.add(p)
        await uow.payments.add(bare)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.payments.get(p.id)
        assert loaded == p
        assert loaded is not None
        assert loaded.create_time.tzinfo is UTC
        assert await uow.payments.get(bare.id) == bare
        assert await uow.payments.find_by_request(p.caller, p.request_id) == p
        assert await uow.payments.find_by_stripe_id(str(p.stripe_payment_intent_id)) == p
        assert await uow.payments.get_for_update(p.id) == p
        assert await uow.payments.find_by_request("other-caller", p.request_id) is None
    p.apply_remote_state(PaymentState.SUCCEEDED, b.T0 + timedelta(seconds=3))
    p.amount_received, p.amount_capturable = 1050, 0
    async with uow_factory() as uow:
        await uow.payments.update(p)
        await uow.commit()
    assert p.version == 1
    async with uow_factory() as uow:
        assert await uow.payments.get(p.id) == p


async def test_payment_work_queues(uow_factory: SqlUnitOfWorkFactory) -> None:
    old, new = b.T0, b.T0 + timedelta(hours=1)
    pending_old = b.payment(None, state=PaymentState.PENDING, create_time=old)
    pending_new = b.payment(None, state=PaymentState.PENDING, create_time=new)
    stale = b.payment(None, state=PaymentState.PROCESSING, synced_at=old)
    fresh = b.payment(None, state=PaymentState.PROCESSING, synced_at=new)
    done = b.payment(None, state=PaymentState.SUCCEEDED, synced_at=old)
    async with uow_factory() as uow:
        for p in (pending_old, pending_new, stale, fresh, done):
            await uow.payments.add(p)
        await uow.commit()
    cutoff = old + timedelta(minutes=1)
    async with uow_factory() as uow:
        assert [p.id for p in await uow.payments.list_pending(cutoff)] == [pending_old.id]
        assert [p.id for p in await uow.payments.list_stale_nonfinal(cutoff)] == [stale.id]


async def test_refunds(uow_factory: SqlUnitOfWorkFactory) -> None:
    p = b.payment(None, state=PaymentState.SUCCEEDED, amount_received=1050)
    r1, r2 = b.refund(p, 100), b.refund(p, 200, reason=None, stripe_refund_id=None)
    from payment_service.domain.states import RefundState

    failed = b.refund(p, 400, state=RefundState.FAILED)
    async with uow_factory() as uow:
        await uow.payments.add(p)
        for r in (r1, r2, failed):
            await uow.refunds.add(r)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refunds.get(r1.id) == r1
        assert await uow.refunds.get(r2.id) == r2
        assert await uow.refunds.find_by_request(r1.caller, r1.request_id) == r1
        assert await uow.refunds.find_by_stripe_id(str(r1.stripe_refund_id), for_update=True) == r1
        assert await uow.refunds.sum_refundable_reserved(p.id) == 300
        assert await uow.refunds.sum_refundable_reserved("pay_none") == 0
        page = await uow.refunds.list_for_payment(p.id, page=b.page(10))
        assert {r.id for r in page.items} == {r1.id, r2.id, failed.id}
        pending = await uow.refunds.list_pending(b.T0 + timedelta(seconds=1))
        assert {r.id for r in pending} == {r1.id, r2.id}


async def test_price_subscription_invoice(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Every field, the JSON ones (items, pending action, lines) with their times, comes
    back equal; a payment keeps the invoice it pays."""
    c, pr = b.customer(), b.price()
    s = b.subscription(c, pr)
    i = b.invoice(c, s)
    p = b.payment(c, invoice_id=i.id)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.prices.add(pr)
        await uow.subscriptions.add(s)
        await uow.invoices.add(i)
        await uow.payments.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.prices.get(pr.id) == pr
        assert await uow.prices.find_by_stripe_id(pr.stripe_price_id) == pr
        assert await uow.subscriptions.get(s.id) == s
        assert await uow.subscriptions.get_for_update(s.id) == s
        assert await uow.subscriptions.find_by_request(s.caller, s.request_id) == s
        assert await uow.subscriptions.find_by_stripe_id(str(s.stripe_subscription_id)) == s
        assert await uow.invoices.get(i.id) == i
        assert await uow.invoices.get_for_update(i.id) == i
        assert await uow.invoices.find_by_stripe_id(i.stripe_invoice_id, for_update=True) == i
        assert await uow.payments.get(p.id) == p
    loaded_times = (s.items[0].current_period_end, i.lines[0].period_start)
    assert all(moment is not None and moment.tzinfo is UTC for moment in loaded_times)
    pr.active = False
    s.cancel_at_period_end, s.pending_action, s.pause_behavior = False, None, None
    s.latest_invoice_id = i.id
    i.lines = []
    async with uow_factory() as uow:
        await uow.prices.update(pr)
        await uow.subscriptions.update(s)
        await uow.invoices.update(i)
        await uow.commit()
    assert (s.version, i.version) == (1, 1)
    async with uow_factory() as uow:
        assert await uow.prices.get(pr.id) == pr
        assert await uow.subscriptions.get(s.id) == s
        assert await uow.invoices.get(i.id) == i


async def test_webhook_events_request_records_audit_and_reconciler_state(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    e = b.webhook_event()
    rec = b.request_record()
    entry = b.audit_entry("pay_audit")
    async with uow_factory() as uow:
        assert await uow.webhook_events.insert_if_new(e)
        assert not await uow.webhook_events.insert_if_new(
            b.webhook_event(stripe_event_id=e.stripe_event_id)
        )
        await uow.request_records.add(rec)
        await uow.audit.add(entry)
        await uow.reconciler_state.set("last_event_id", "evt_1")
        await uow.reconciler_state.set("last_event_id", "evt_2")
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.webhook_events.get(e.id)
        assert loaded == e
        assert loaded.next_attempt_at == e.receive_time
        assert await uow.webhook_events.find_by_stripe_event_id(e.stripe_event_id) == e
        assert await uow.request_records.get(rec.caller, rec.request_id) == rec
        assert await uow.audit.list_for_object("payment", "pay_audit") == [entry]
        assert await uow.reconciler_state.get("last_event_id") == "evt_2"
        assert await uow.reconciler_state.get("missing") is None
    e.mark_failed("boom", b.T0 + timedelta(seconds=30))
    async with uow_factory() as uow:
        await uow.webhook_events.update(e)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.webhook_events.get(e.id)
        assert stored == e
        assert stored.state is WebhookEventState.FAILED


async def test_claim_due_and_list_events(uow_factory: SqlUnitOfWorkFactory) -> None:
    due = b.webhook_event(next_attempt_at=b.T0)
    later = b.webhook_event(next_attempt_at=b.T0 + timedelta(hours=1))
    done = b.webhook_event(state=WebhookEventState.PROCESSED, next_attempt_at=b.T0)
    async with uow_factory() as uow:
        for event in (due, later, done):
            assert await uow.webhook_events.insert_if_new(event)
        await uow.commit()
    async with uow_factory() as uow:
        claimed = await uow.webhook_events.claim_due(b.T0 + timedelta(minutes=1), 10)
        assert [event.id for event in claimed] == [due.id]
        listed = await uow.webhook_events.list_events(
            page=b.page(), states=[WebhookEventState.PROCESSED]
        )
        assert [event.id for event in listed.items] == [done.id]
        everything = await uow.webhook_events.list_events(page=b.page())
        assert {event.id for event in everything.items} == {due.id, later.id, done.id}
        assert all(isinstance(event, WebhookEvent) for event in everything.items)


async def test_disputes_and_setup_intents(uow_factory: SqlUnitOfWorkFactory) -> None:
    c = b.customer()
    p = b.payment(c, dispute_id=None, off_session=True, setup_future_usage=None)
    soon, later = b.T0 + timedelta(hours=1), b.T0 + timedelta(days=5)
    due = b.dispute(p, evidence_due_by=soon)
    waiting = b.dispute(p, state=DisputeState.WARNING_NEEDS_RESPONSE, evidence_due_by=later)
    won = b.dispute(p, state=DisputeState.WON, evidence_due_by=None, synced_at=None)
    setup = b.setup_intent(c)
    pending = b.setup_intent(c, state=SetupIntentState.PENDING, stripe_setup_intent_id=None)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payments.add(p)
        for dispute in (due, waiting, won):
            await uow.disputes.add(dispute)
        await uow.setup_intents.add(setup)
        await uow.setup_intents.add(pending)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        assert await uow.disputes.get(due.id) == due
        assert await uow.disputes.find_by_stripe_id(waiting.stripe_dispute_id) == waiting
        assert await uow.disputes.count_open(OPEN_DISPUTE_STATES, b.T0 + timedelta(hours=72)) == (
            2,
            1,
        )
        listed = await uow.disputes.list_disputes(DisputeFilter(payment_id=p.id), page=b.page())
        assert {d.id for d in listed.items} == {due.id, waiting.id, won.id}
        stale = await uow.disputes.list_to_refresh(OPEN_DISPUTE_STATES, b.T0 + timedelta(days=1))
        assert {d.id for d in stale} == {due.id, waiting.id}
        assert await uow.setup_intents.get(setup.id) == setup
        assert await uow.setup_intents.find_by_request(setup.caller, setup.request_id) == setup
        assert await uow.setup_intents.list_pending(b.T0 + timedelta(seconds=1)) == [pending]
        assert (await uow.payments.get(p.id)) == p

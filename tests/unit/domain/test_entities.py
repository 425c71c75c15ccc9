from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payment_service.domain import refund_rules
from payment_service.domain.entities import (
    RESERVING_REFUND_STATES,
    Invoice,
    Payment,
    PaymentMethod,
    Refund,
    Subscription,
    SubscriptionItem,
    WebhookEvent,
)
from payment_service.domain.errors import InvalidTransition
from payment_service.domain.refund_rules import RefundTotals
from payment_service.domain.states import (
    InvoiceState,
    PaymentMethodState,
    PaymentRefundState,
    PaymentState,
    RefundState,
    SubscriptionState,
    WebhookEventState,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def payment(**overrides: object) -> Payment:
    values: dict[str, object] = {
        "id": "pay_1",
        "account_id": "acct_1",
        "customer_id": None,
        "caller": "svc",
        "request_id": "r1",
        "request_hash": "h",
        "amount": 1000,
        "currency": "usd",
    }
    values.update(overrides)
    return Payment(**values)  # type: ignore[arg-type]


def test_move_to_follows_the_table() -> None:
    p = payment()
    p.move_to(PaymentState.REQUIRES_CONFIRMATION)
    p.move_to(PaymentState.SUCCEEDED)
    with pytest.raises(InvalidTransition):
        p.move_to(PaymentState.CANCELED)
    assert p.state is PaymentState.SUCCEEDED
    p.move_to(PaymentState.SUCCEEDED)  # same state: no-op


def test_remote_update_applies_newer_observations() -> None:
    p = payment(state=PaymentState.PROCESSING)
    assert p.apply_remote_state(PaymentState.SUCCEEDED, T0)
    assert p.state is PaymentState.SUCCEEDED
    assert p.remote_updated_at == T0


def test_stale_remote_update_is_ignored() -> None:
    p = payment(state=PaymentState.REQUIRES_ACTION)
    assert p.apply_remote_state(PaymentState.REQUIRES_PAYMENT_METHOD, T0 + timedelta(seconds=5))
    before = p.update_time
    # An older event arrives late: it must not overwrite the newer state.
    assert not p.apply_remote_state(PaymentState.PROCESSING, T0)
    assert p.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert p.remote_updated_at == T0 + timedelta(seconds=5)
    assert p.update_time == before


def test_forbidden_remote_update_is_ignored_even_when_newer() -> None:
    p = payment(state=PaymentState.SUCCEEDED, remote_updated_at=T0)
    assert not p.apply_remote_state(PaymentState.PROCESSING, T0 + timedelta(hours=1))
    assert p.state is PaymentState.SUCCEEDED
    assert p.remote_updated_at == T0


def test_same_second_events_are_judged_by_the_table() -> None:
    p = payment(state=PaymentState.PROCESSING)
    assert p.apply_remote_state(PaymentState.SUCCEEDED, T0)
    assert not p.apply_remote_state(PaymentState.PROCESSING, T0)
    assert p.state is PaymentState.SUCCEEDED


def test_naive_observation_time_is_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        payment().apply_remote_state(PaymentState.SUCCEEDED, datetime(2025, 1, 1))


def test_refund_state_and_refundable_amount() -> None:
    p = payment(state=PaymentState.SUCCEEDED, amount_received=1000)
    assert p.refund_state is PaymentRefundState.NONE
    assert refund_rules.refundable(p, RefundTotals(succeeded=0, in_flight=0)) == 1000
    assert refund_rules.settle_refunded(p, succeeded=400)
    assert p.refund_state is PaymentRefundState.PARTIALLY_REFUNDED
    assert refund_rules.refundable(p, RefundTotals(succeeded=400, in_flight=0)) == 600
    assert refund_rules.refundable(p, RefundTotals(succeeded=400, in_flight=600)) == 0
    assert refund_rules.settle_refunded(p, succeeded=1000)
    assert p.refund_state is PaymentRefundState.REFUNDED


def test_stripes_refunded_total_is_never_undercut_by_our_rows() -> None:
    p = payment(state=PaymentState.SUCCEEDED, amount_received=1000, stripe_amount_refunded=500)
    assert refund_rules.refundable(p, RefundTotals(succeeded=300, in_flight=0)) == 500
    assert refund_rules.unexplained(p, RefundTotals(succeeded=300, in_flight=100)) == 100
    assert refund_rules.settle_refunded(p, succeeded=300)
    assert (p.amount_refunded, p.stripe_amount_refunded) == (500, 500)
    assert not refund_rules.settle_refunded(p, succeeded=300)


def test_only_succeeded_payments_have_anything_to_refund() -> None:
    p = payment(state=PaymentState.REQUIRES_CAPTURE, amount_capturable=1000)
    assert refund_rules.refundable(p, RefundTotals(succeeded=0, in_flight=0)) == 0


def test_refund_may_fail_after_success_but_not_come_back() -> None:
    r = Refund(
        id="rfd_1",
        payment_id="pay_1",
        account_id="a",
        caller="svc",
        request_id="r",
        request_hash="h",
        amount=100,
        currency="usd",
    )
    assert r.state in RESERVING_REFUND_STATES
    assert r.apply_remote_state(RefundState.SUCCEEDED, T0)
    assert r.apply_remote_state(RefundState.FAILED, T0 + timedelta(seconds=1))
    assert r.state not in RESERVING_REFUND_STATES
    # A refund that failed after it had succeeded gives all of it back.
    r.stripe_refund_id = "re_1"
    assert refund_rules.failed_share(r, RefundState.SUCCEEDED, unexplained_now=0) == 100
    assert not r.apply_remote_state(RefundState.SUCCEEDED, T0 + timedelta(seconds=2))
    assert r.state is RefundState.FAILED


def test_subscription_and_invoice_remote_updates() -> None:
    s = Subscription(
        id="subn_1",
        account_id="a",
        customer_id="cust_1",
        caller="svc",
        request_id="r",
        request_hash="h",
        stripe_customer_id="cus_1",
        items=[SubscriptionItem(price_id="price_1", stripe_price_id="p", quantity=1)],
    )
    assert s.apply_remote_state(SubscriptionState.ACTIVE, T0)
    assert s.apply_remote_state(SubscriptionState.CANCELED, T0 + timedelta(seconds=1))
    assert not s.apply_remote_state(SubscriptionState.ACTIVE, T0 + timedelta(seconds=2))
    assert s.is_final
    i = Invoice(
        id="inv_1",
        account_id="a",
        customer_id="cust_1",
        stripe_invoice_id="in_1",
        currency="usd",
        state=InvoiceState.OPEN,
    )
    assert i.apply_remote_state(InvoiceState.UNCOLLECTIBLE, T0)
    assert i.apply_remote_state(InvoiceState.PAID, T0)
    assert not i.apply_remote_state(InvoiceState.OPEN, T0 + timedelta(days=1))


def test_payment_method_detach_is_final() -> None:
    m = PaymentMethod(
        id="pmt_1", account_id="a", customer_id="cust_1", stripe_payment_method_id="pm_1"
    )
    m.detach()
    assert m.state is PaymentMethodState.DETACHED
    with pytest.raises(InvalidTransition):
        m.move_to(PaymentMethodState.ATTACHED)


def test_webhook_event_retry_and_replay() -> None:
    e = WebhookEvent(
        id="whe_1",
        stripe_event_id="evt_1",
        type="payment_intent.succeeded",
        created=T0,
        payload="{}",
    )
    e.mark_failed("boom", T0 + timedelta(seconds=2))
    assert (e.state, e.attempts, e.last_error) == (WebhookEventState.FAILED, 1, "boom")
    e.mark_dead("boom again")
    assert e.state is WebhookEventState.DEAD
    assert e.attempts == 2
    with pytest.raises(InvalidTransition):
        e.mark_processed()
    e.requeue_for_replay(T0)
    assert e.state is WebhookEventState.RECEIVED
    assert e.next_attempt_at == T0
    e.mark_processed(T0)
    assert e.state is WebhookEventState.PROCESSED
    assert e.processed_at == T0
    with pytest.raises(InvalidTransition):
        e.requeue_for_replay()

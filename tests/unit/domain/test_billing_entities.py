"""Subscriptions and invoices take Stripe's view order-safe; what is left for the customer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from payment_service.domain.billing import (
    PauseBehavior,
    RemoteInvoice,
    RemotePause,
    RemoteSubscription,
    RemoteSubscriptionItem,
)
from payment_service.domain.entities import (
    Invoice,
    Payment,
    PaymentAction,
    Subscription,
    SubscriptionItem,
)
from payment_service.domain.states import InvoiceState, PaymentState, SubscriptionState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
START = int(T0.timestamp())
MONTH = 30 * 86400


def _subscription() -> Subscription:
    return Subscription(
        id="subn_1",
        account_id="acct_1",
        customer_id="cust_1",
        caller="svc",
        request_id="r1",
        request_hash="h",
        stripe_customer_id="cus_1",
        items=[SubscriptionItem(price_id="price_ours", stripe_price_id="price_x", quantity=1)],
    )


def _remote(state: SubscriptionState, **changes: object) -> RemoteSubscription:
    remote = RemoteSubscription(
        stripe_id="sub_1",
        customer="cus_1",
        state=state,
        items=(RemoteSubscriptionItem("si_1", "price_x", 3, START, START + MONTH),),
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        trial_start=None,
        trial_end=None,
        pause=None,
        default_payment_method="pm_1",
        latest_invoice_id="in_1",
        metadata={"subscription_id": "subn_1"},
        created=START,
    )
    return replace(remote, **changes)  # type: ignore[arg-type]


def test_stripe_view_is_copied_with_item_periods_and_our_price_ids() -> None:
    subscription = _subscription()
    remote = _remote(
        SubscriptionState.ACTIVE, pause=RemotePause(PauseBehavior.VOID, START + 2 * MONTH)
    )
    assert subscription.apply_remote(remote, T0, {"price_x": "price_ours"})
    assert subscription.state is SubscriptionState.ACTIVE
    assert subscription.stripe_subscription_id == "sub_1"
    assert subscription.item.quantity == 3
    assert subscription.item.price_id == "price_ours"
    assert subscription.item.stripe_item_id == "si_1"
    assert subscription.current_period_start == T0
    assert subscription.current_period_end == T0 + timedelta(seconds=MONTH)
    assert subscription.pause_behavior is PauseBehavior.VOID
    assert subscription.stripe_latest_invoice_id == "in_1"


def test_a_late_created_incomplete_never_undoes_active() -> None:
    subscription = _subscription()
    assert subscription.apply_remote(_remote(SubscriptionState.ACTIVE), T0, {})
    # customer.subscription.created (incomplete) delivered after updated (active), same second
    assert not subscription.apply_remote(_remote(SubscriptionState.INCOMPLETE), T0, {})
    assert subscription.state is SubscriptionState.ACTIVE


def test_an_older_observation_changes_nothing_but_the_link() -> None:
    subscription = _subscription()
    assert subscription.apply_remote(
        _remote(SubscriptionState.ACTIVE, cancel_at_period_end=True), T0, {}
    )
    stale = _remote(SubscriptionState.ACTIVE, cancel_at_period_end=False)
    assert not subscription.apply_remote(stale, T0 - timedelta(seconds=5), {})
    assert subscription.cancel_at_period_end


def test_canceled_is_never_left() -> None:
    subscription = _subscription()
    assert subscription.apply_remote(_remote(SubscriptionState.CANCELED), T0, {})
    later = T0 + timedelta(minutes=1)
    assert not subscription.apply_remote(_remote(SubscriptionState.ACTIVE), later, {})
    assert subscription.is_final


def test_the_create_request_is_the_same_on_every_retry() -> None:
    subscription = _subscription()
    subscription.trial_end = T0 + timedelta(days=3)
    subscription.default_payment_method = "pm_1"
    first = subscription.create_request()
    assert first == subscription.create_request()
    assert first.trial_end == START + 3 * 86400
    assert (first.price, first.quantity, first.subscription_id) == ("price_x", 1, "subn_1")


def _invoice(state: InvoiceState) -> Invoice:
    return Invoice(
        id="inv_1",
        account_id="acct_1",
        customer_id="cust_1",
        stripe_invoice_id="in_1",
        currency="usd",
        state=state,
        hosted_invoice_url="https://pay.example/in_1",
    )


def _payment(state: PaymentState) -> Payment:
    return Payment(
        id="pay_1",
        account_id="acct_1",
        customer_id="cust_1",
        caller="stripe-billing",
        request_id="in_1/pi_1",
        request_hash="",
        amount=1500,
        currency="usd",
        state=state,
        client_secret="pi_1_secret",
        next_action_type="use_stripe_sdk",
    )


def test_an_open_invoice_waiting_for_3ds_tells_what_to_do() -> None:
    action = PaymentAction.for_invoice(
        _invoice(InvoiceState.OPEN), _payment(PaymentState.REQUIRES_ACTION)
    )
    assert action is not None
    assert (action.client_secret, action.next_action_type) == ("pi_1_secret", "use_stripe_sdk")
    assert action.hosted_invoice_url == "https://pay.example/in_1"
    assert action.payment_id == "pay_1"


def test_nothing_is_left_to_do_on_paid_invoices_or_succeeded_payments() -> None:
    paid = _invoice(InvoiceState.PAID)
    assert PaymentAction.for_invoice(paid, _payment(PaymentState.REQUIRES_ACTION)) is None
    opened = _invoice(InvoiceState.OPEN)
    assert PaymentAction.for_invoice(opened, _payment(PaymentState.SUCCEEDED)) is None


def test_invoice_amounts_paid_never_shrink_and_paid_is_final() -> None:
    invoice = _invoice(InvoiceState.OPEN)
    remote = RemoteInvoice(
        stripe_id="in_1",
        customer="cus_1",
        subscription="sub_1",
        state=InvoiceState.PAID,
        number="A-1",
        currency="usd",
        amount_due=1500,
        amount_paid=1500,
        amount_remaining=0,
        subtotal=1500,
        total=1500,
        hosted_invoice_url=None,
        invoice_pdf="https://pay.example/in_1.pdf",
        period_start=START,
        period_end=START + MONTH,
        due_date=None,
        paid_at=START + 60,
        billing_reason="subscription_cycle",
        attempt_count=1,
        lines=(),
        payment_intent_id="pi_1",
        metadata={},
        created=START,
    )
    assert invoice.apply_remote(remote, T0)
    assert (invoice.state, invoice.amount_paid, invoice.number) == (InvoiceState.PAID, 1500, "A-1")
    assert invoice.hosted_invoice_url == "https://pay.example/in_1"  # kept when Stripe omits it
    reopened = replace(remote, state=InvoiceState.OPEN, amount_paid=0)
    assert not invoice.apply_remote(reopened, T0 + timedelta(hours=1))
    assert invoice.amount_paid == 1500

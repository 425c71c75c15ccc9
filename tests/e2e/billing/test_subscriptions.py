"""SubscriptionService end to end: gRPC stubs -> the service -> localstripe (with the billing
patch layer) -> real webhooks back to the sidecar, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from payments.v1 import invoice_service_pb2 as inv_pb
from payments.v1 import payment_service_pb2 as pay_pb
from payments.v1 import refund_service_pb2 as refund_pb
from payments.v1 import subscription_service_pb2 as pb

from tests.e2e.billing.support import (
    DECLINE_AT_CHARGE,
    THREE_D_SECURE,
    BillingStack,
    account,
    rejected,
    request_id,
    wait_for,
)
from tests.support.stack import error_details


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


async def test_list_prices_mirrors_recurring_prices_of_stripe(billing: BillingStack) -> None:
    monthly = await billing.price(1500, "month", "Pro monthly")
    yearly = await billing.price(15000, "year", "Pro yearly")
    assert (monthly.product_name, monthly.unit_amount, monthly.currency_code) == (
        "Pro monthly",
        1500,
        "usd",
    )
    assert monthly.interval == pb.PRICE_INTERVAL_MONTH
    assert yearly.interval == pb.PRICE_INTERVAL_YEAR
    assert monthly.interval_count == 1
    assert monthly.active
    assert monthly.id.startswith("price_")
    assert monthly.id != monthly.stripe_price_id


async def test_a_card_subscription_is_active_and_its_invoice_payment_is_a_refundable_payment(
    billing: BillingStack,
) -> None:
    price = await billing.price(2000)
    await billing.card()
    subscription = await billing.subscribe(price, quantity=2, metadata={"plan": "team"})
    assert subscription.state == pb.SUBSCRIPTION_STATE_ACTIVE
    assert subscription.quantity == 2
    assert subscription.items[0].price_id == price.id
    assert subscription.items[0].current_period_end.seconds > 0
    assert subscription.stripe_subscription_id.startswith("sub_")
    assert not subscription.HasField("pending_action")

    (invoice,) = await billing.invoices_of(subscription.id)
    assert invoice.state == inv_pb.INVOICE_STATE_PAID
    assert invoice.amount_paid == 4000
    assert invoice.hosted_invoice_url.startswith("http")
    assert invoice.invoice_pdf_url.startswith("http")
    assert invoice.payment_id.startswith("pay_")
    assert [line.price_id for line in invoice.lines] == [price.id]  # ours, not Stripe's
    assert subscription.latest_invoice_id == invoice.id

    payment = await billing.stack.payments.GetPayment(
        pay_pb.GetPaymentRequest(id=invoice.payment_id), metadata=billing.auth(), timeout=20
    )
    assert payment.payment.invoice_id == invoice.id
    assert payment.payment.amount == 4000
    assert payment.payment.state == pay_pb.PAYMENT_STATE_SUCCEEDED
    listed = await billing.stack.payments.ListPayments(
        pay_pb.ListPaymentsRequest(account_id=billing.account_id),
        metadata=billing.auth(),
        timeout=20,
    )
    assert invoice.payment_id in {p.id for p in listed.payments}

    refund = await billing.stack.refunds.CreateRefund(
        refund_pb.CreateRefundRequest(
            request_id=request_id(), payment_id=invoice.payment_id, amount=1500
        ),
        metadata=billing.auth(),
        timeout=20,
    )
    assert refund.refund.amount == 1500
    with pytest.raises(grpc.aio.AioRpcError) as too_much:
        await billing.stack.refunds.CreateRefund(
            refund_pb.CreateRefundRequest(
                request_id=request_id(), payment_id=invoice.payment_id, amount=2501
            ),
            metadata=billing.auth(),
            timeout=20,
        )
    assert error_details(too_much.value).reason == "REFUND_EXCEEDS_REFUNDABLE"


async def test_a_trial_needs_no_card_and_ends_into_active(billing: BillingStack) -> None:
    price = await billing.price()
    subscription = await billing.subscribe(price, trial_period_days=14)
    assert subscription.state == pb.SUBSCRIPTION_STATE_TRIALING
    assert subscription.trial_end.seconds - subscription.trial_start.seconds == 14 * 86400
    await billing.card()
    await billing.advance(subscription.stripe_subscription_id)
    active = await billing.wait_state(subscription.id, pb.SUBSCRIPTION_STATE_ACTIVE)
    paid = [i for i in await billing.invoices_of(active.id) if i.amount_paid == 1500]
    assert paid, "the first paid period after the trial"


async def test_trial_end_as_a_time(billing: BillingStack) -> None:
    price = await billing.price()
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    subscription = await billing.subscribe(price, trial_end=stamp(end))
    assert subscription.state == pb.SUBSCRIPTION_STATE_TRIALING
    assert subscription.trial_end.seconds == int(end.timestamp())


async def test_three_d_secure_on_the_first_payment_leaves_it_incomplete_with_what_to_do(
    billing: BillingStack,
) -> None:
    price = await billing.price()
    await billing.card(THREE_D_SECURE)
    subscription = await billing.subscribe(price)
    assert subscription.state == pb.SUBSCRIPTION_STATE_INCOMPLETE
    action = subscription.pending_action
    assert action.client_secret
    assert action.hosted_invoice_url.startswith("http")
    assert action.payment_id.startswith("pay_")
    payment = await billing.stack.payments.GetPayment(
        pay_pb.GetPaymentRequest(id=action.payment_id), metadata=billing.auth(), timeout=20
    )
    await billing.localstripe.authenticate(payment.payment.stripe_payment_intent_id)
    active = await billing.wait_state(subscription.id, pb.SUBSCRIPTION_STATE_ACTIVE)
    assert not active.HasField("pending_action")


async def test_a_declined_first_payment_answers_card_declined_on_every_retry(
    billing: BillingStack,
) -> None:
    price = await billing.price()
    await billing.card(DECLINE_AT_CHARGE)
    rid = request_id()
    for _ in range(2):
        with pytest.raises(grpc.aio.AioRpcError) as declined:
            await billing.subscribe(price, request_id=rid)
        details = error_details(declined.value)
        assert details.code is grpc.StatusCode.FAILED_PRECONDITION
        assert details.reason == "CARD_DECLINED"
        assert details.metadata["subscription_id"].startswith("subn_")
    listed = await billing.subscriptions.ListSubscriptions(
        pb.ListSubscriptionsRequest(account_id=billing.account_id),
        metadata=billing.auth(),
        timeout=20,
    )
    (only,) = listed.subscriptions
    assert only.state == pb.SUBSCRIPTION_STATE_INCOMPLETE
    assert only.pending_action.error_code == "card_declined"


async def test_no_payment_method_and_no_trial_changes_nothing(billing: BillingStack) -> None:
    price = await billing.price()
    before = await billing.localstripe.count("subscriptions")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await billing.subscribe(price)
    details = error_details(refused.value)
    assert details.code is grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "PAYMENT_METHOD_REQUIRED"
    assert await billing.localstripe.count("subscriptions") == before


async def test_a_previewed_plan_change_is_charged_as_previewed(billing: BillingStack) -> None:
    monthly = await billing.price(1000)
    bigger = await billing.price(3000)
    await billing.card()
    subscription = await billing.subscribe(monthly)
    preview = await billing.subscriptions.PreviewSubscriptionChange(
        pb.PreviewSubscriptionChangeRequest(
            id=subscription.id,
            price_id=bigger.id,
            proration_behavior=pb.PRORATION_BEHAVIOR_ALWAYS_INVOICE,
        ),
        metadata=billing.auth(),
        timeout=20,
    )
    assert preview.proration_lines
    assert {line.price_id for line in preview.lines} <= {monthly.id, bigger.id}
    assert preview.amount_due_now > 0
    assert preview.next_invoice_total == 3000
    changed = await billing.subscriptions.UpdateSubscription(
        pb.UpdateSubscriptionRequest(
            request_id=request_id(),
            id=subscription.id,
            price_id=bigger.id,
            proration_behavior=pb.PRORATION_BEHAVIOR_ALWAYS_INVOICE,
            proration_time=preview.proration_time,
        ),
        metadata=billing.auth(),
        timeout=30,
    )
    assert changed.subscription.price_id == bigger.id
    invoices = await billing.invoices_of(subscription.id)
    proration_invoice = next(i for i in invoices if any(line.proration for line in i.lines))
    assert proration_invoice.amount_due == preview.amount_due_now


async def test_cancel_at_period_end_then_resume_then_cancel_now(billing: BillingStack) -> None:
    price = await billing.price()
    await billing.card()
    subscription = await billing.subscribe(price)
    ending = await billing.subscriptions.CancelSubscription(
        pb.CancelSubscriptionRequest(
            request_id=request_id(), id=subscription.id, at_period_end=True
        ),
        metadata=billing.auth(),
        timeout=20,
    )
    assert ending.subscription.cancel_at_period_end
    assert ending.subscription.state == pb.SUBSCRIPTION_STATE_ACTIVE
    resumed = await billing.subscriptions.ResumeSubscription(
        pb.ResumeSubscriptionRequest(request_id=request_id(), id=subscription.id),
        metadata=billing.auth(),
        timeout=20,
    )
    assert not resumed.subscription.cancel_at_period_end
    canceled = await billing.subscriptions.CancelSubscription(
        pb.CancelSubscriptionRequest(request_id=request_id(), id=subscription.id),
        metadata=billing.auth(),
        timeout=20,
    )
    assert canceled.subscription.state == pb.SUBSCRIPTION_STATE_CANCELED
    for call in (
        billing.subscriptions.CancelSubscription(
            pb.CancelSubscriptionRequest(request_id=request_id(), id=subscription.id),
            metadata=billing.auth(),
            timeout=20,
        ),
        billing.subscriptions.UpdateSubscription(
            pb.UpdateSubscriptionRequest(request_id=request_id(), id=subscription.id, quantity=2),
            metadata=billing.auth(),
            timeout=20,
        ),
        billing.subscriptions.PauseSubscription(
            pb.PauseSubscriptionRequest(request_id=request_id(), id=subscription.id),
            metadata=billing.auth(),
            timeout=20,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_cancel_at_period_end_takes_effect_at_the_renewal(billing: BillingStack) -> None:
    price = await billing.price()
    await billing.card()
    subscription = await billing.subscribe(price)
    await billing.subscriptions.CancelSubscription(
        pb.CancelSubscriptionRequest(
            request_id=request_id(), id=subscription.id, at_period_end=True
        ),
        metadata=billing.auth(),
        timeout=20,
    )
    await billing.advance(subscription.stripe_subscription_id)
    await billing.wait_state(subscription.id, pb.SUBSCRIPTION_STATE_CANCELED)


async def test_pause_collection_then_resume(billing: BillingStack) -> None:
    price = await billing.price()
    await billing.card()
    subscription = await billing.subscribe(price)
    resume_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    paused = await billing.subscriptions.PauseSubscription(
        pb.PauseSubscriptionRequest(
            request_id=request_id(),
            id=subscription.id,
            behavior=pb.PAUSE_BEHAVIOR_KEEP_AS_DRAFT,
            resume_time=stamp(resume_at),
        ),
        metadata=billing.auth(),
        timeout=20,
    )
    assert paused.subscription.pause_collection.behavior == pb.PAUSE_BEHAVIOR_KEEP_AS_DRAFT
    assert paused.subscription.pause_collection.resume_time.seconds == int(resume_at.timestamp())
    resumed = await billing.subscriptions.ResumeSubscription(
        pb.ResumeSubscriptionRequest(request_id=request_id(), id=subscription.id),
        metadata=billing.auth(),
        timeout=20,
    )
    assert not resumed.subscription.HasField("pause_collection")
    assert (
        await rejected(
            billing.subscriptions.ResumeSubscription(
                pb.ResumeSubscriptionRequest(request_id=request_id(), id=subscription.id),
                metadata=billing.auth(),
                timeout=20,
            )
        )
    ).code is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_failed_renewal_goes_past_due_shows_in_dunning_and_is_paid(
    billing: BillingStack,
) -> None:
    price = await billing.price()
    await billing.card(DECLINE_AT_CHARGE)
    subscription = await billing.subscribe(price, trial_period_days=7)
    await billing.advance(subscription.stripe_subscription_id)
    await billing.wait_state(subscription.id, pb.SUBSCRIPTION_STATE_PAST_DUE)
    dunning = await billing.subscriptions.ListDelinquentSubscriptions(
        pb.ListDelinquentSubscriptionsRequest(page_size=200), metadata=billing.auth(), timeout=20
    )
    assert subscription.id in {s.id for s in dunning.subscriptions}
    assert (
        await rejected(
            billing.subscriptions.ListDelinquentSubscriptions(
                pb.ListDelinquentSubscriptionsRequest(),
                metadata=billing.auth(account_id=billing.account_id),
                timeout=20,
            )
        )
    ).code is grpc.StatusCode.PERMISSION_DENIED

    unpaid = await billing.open_invoice(subscription.id)
    good = await billing.card()
    paid = await billing.invoices.PayInvoice(
        inv_pb.PayInvoiceRequest(
            request_id=request_id(), id=unpaid.id, stripe_payment_method_id=good
        ),
        metadata=billing.auth(),
        timeout=30,
    )
    assert paid.invoice.state == inv_pb.INVOICE_STATE_PAID
    await billing.wait_state(subscription.id, pb.SUBSCRIPTION_STATE_ACTIVE)
    assert (
        await rejected(
            billing.invoices.PayInvoice(
                inv_pb.PayInvoiceRequest(request_id=request_id(), id=unpaid.id),
                metadata=billing.auth(),
                timeout=20,
            )
        )
    ).code is grpc.StatusCode.FAILED_PRECONDITION
    assert (
        await rejected(
            billing.invoices.VoidInvoice(
                inv_pb.VoidInvoiceRequest(request_id=request_id(), id=unpaid.id),
                metadata=billing.auth(),
                timeout=20,
            )
        )
    ).code is grpc.StatusCode.FAILED_PRECONDITION


async def test_three_d_secure_on_a_renewal_is_visible_on_the_subscription(
    billing: BillingStack,
) -> None:
    price = await billing.price()
    await billing.card(THREE_D_SECURE)
    subscription = await billing.subscribe(price, trial_period_days=7)
    await billing.advance(subscription.stripe_subscription_id)

    async def needs_action() -> pb.Subscription | None:
        found = await billing.get(subscription.id)
        return found if found.pending_action.client_secret else None

    waiting = await wait_for(needs_action, what="the renewal's pending action")
    assert waiting.pending_action.hosted_invoice_url.startswith("http")
    invoice = await billing.invoices.GetInvoice(
        inv_pb.GetInvoiceRequest(id=waiting.pending_action.invoice_id),
        metadata=billing.auth(),
        timeout=20,
    )
    assert invoice.invoice.state == inv_pb.INVOICE_STATE_OPEN
    assert invoice.invoice.pending_action.client_secret == waiting.pending_action.client_secret


async def test_an_open_invoice_is_voided_once(billing: BillingStack) -> None:
    price = await billing.price()
    await billing.card(DECLINE_AT_CHARGE)
    subscription = await billing.subscribe(price, trial_period_days=7)
    await billing.advance(subscription.stripe_subscription_id)

    unpaid = await billing.open_invoice(subscription.id)
    voided = await billing.invoices.VoidInvoice(
        inv_pb.VoidInvoiceRequest(request_id=request_id(), id=unpaid.id),
        metadata=billing.auth(),
        timeout=20,
    )
    assert voided.invoice.state == inv_pb.INVOICE_STATE_VOID
    assert (
        await rejected(
            billing.invoices.VoidInvoice(
                inv_pb.VoidInvoiceRequest(request_id=request_id(), id=unpaid.id),
                metadata=billing.auth(),
                timeout=20,
            )
        )
    ).code is grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quantity": -1}, "quantity"),
        ({"trial_period_days": 731}, "trial_period_days"),
        ({"price_id": "nope"}, "price_id"),
        ({"request_id": ""}, "request_id"),
        ({"stripe_payment_method_id": "card_x"}, "stripe_payment_method_id"),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    billing: BillingStack, fields: dict[str, object], field: str
) -> None:
    price = await billing.price()
    before = await billing.localstripe.count("subscriptions")
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await billing.subscribe(price, **fields)
    details = error_details(bad.value)
    assert details.code is grpc.StatusCode.INVALID_ARGUMENT
    assert field in details.field_violations
    assert await billing.localstripe.count("subscriptions") == before


async def test_trial_end_in_the_past_is_invalid(billing: BillingStack) -> None:
    price = await billing.price()
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await billing.subscribe(price, trial_end=stamp(datetime.now(UTC) - timedelta(hours=1)))
    assert "trial_end" in error_details(bad.value).field_violations


async def test_unknown_price_other_accounts_and_reused_request_ids(billing: BillingStack) -> None:
    price = await billing.price()
    assert (
        await rejected(billing.subscribe(price, price_id="price_01JAAAAAAAAAAAAAAAAAAAAAAA"))
    ).code is grpc.StatusCode.NOT_FOUND
    await billing.card()
    rid = request_id()
    subscription = await billing.subscribe(price, request_id=rid)
    again = await billing.subscribe(price, request_id=rid)
    assert again.id == subscription.id
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await billing.subscribe(price, request_id=rid, quantity=5)
    assert error_details(reused.value).reason == "REQUEST_ID_REUSED"
    assert (
        await rejected(
            billing.subscriptions.GetSubscription(
                pb.GetSubscriptionRequest(id=subscription.id),
                metadata=billing.auth(account_id=account()),
                timeout=20,
            )
        )
    ).code is grpc.StatusCode.NOT_FOUND

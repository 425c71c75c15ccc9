"""StripeGateway against a real localstripe: customers, cards, PaymentIntents, refunds."""

from __future__ import annotations

import uuid

import pytest

from payment_service.adapters.stripe import StripeGateway
from payment_service.app.ports.processor import NewCustomer, NewRefund, idempotency_key
from payment_service.domain.errors import (
    CardDeclined,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from payment_service.domain.processor import NewPaymentIntent, ProcessorCardDeclined, RemoteCustomer
from payment_service.domain.states import CaptureMethod, PaymentState, RefundReason, RefundState
from tests.integration.stripe.intents import card_payment
from tests.support.localstripe import LocalStripe

VISA = "4242424242424242"
DECLINE_ON_CHARGE = "4000000000000341"
DECLINE_ON_ATTACH = "4000000000000002"
THREE_D_SECURE = "4000002760003184"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


async def customer_with_card(
    gateway: StripeGateway, localstripe: LocalStripe, number: str = VISA
) -> tuple[RemoteCustomer, str]:
    cus_row = new_id("cus")
    customer = await gateway.create_customer(
        NewCustomer(account_id="acct_1", email="a@example.com"),
        idempotency_key=idempotency_key(cus_row, "create"),
    )
    pm = await localstripe.create_card_payment_method(number)
    await gateway.attach_payment_method(
        pm, customer=customer.stripe_id, idempotency_key=idempotency_key(new_id("pm"), "attach")
    )
    return customer, pm


async def test_customer_create_retrieve_and_default_payment_method(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    row = new_id("cus")
    created = await gateway.create_customer(
        NewCustomer(
            account_id="acct_42",
            email="jane@example.com",
            name="Jane",
            metadata={"customer_id": row},
        ),
        idempotency_key=idempotency_key(row, "create"),
    )
    assert created.stripe_id.startswith("cus_")
    assert created.metadata == {"customer_id": row, "account_id": "acct_42"}

    pm = await localstripe.create_card_payment_method(VISA)
    attached = await gateway.attach_payment_method(
        pm, customer=created.stripe_id, idempotency_key=idempotency_key(row, "attach")
    )
    assert (attached.customer, attached.last4, attached.brand, attached.exp_year) == (
        created.stripe_id,
        "4242",
        "visa",
        2034,
    )
    updated = await gateway.set_default_payment_method(
        created.stripe_id, pm, idempotency_key=idempotency_key(row, "default_pm")
    )
    assert updated.default_payment_method == pm
    again = await gateway.retrieve_customer(created.stripe_id)
    assert (again.email, again.name, again.default_payment_method) == (
        "jane@example.com",
        "Jane",
        pm,
    )

    detached = await gateway.detach_payment_method(
        pm, idempotency_key=idempotency_key(row, "detach")
    )
    assert detached.customer is None
    assert (await gateway.retrieve_payment_method(pm)).customer is None


async def test_automatic_capture_succeeds_and_sends_our_idempotency_key(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(
            pay,
            1050,
            "USD",
            customer.stripe_id,
            pm,
            description="order 1",
            receipt_email="a@example.com",
            metadata={"order": "1"},
        ),
        idempotency_key=idempotency_key(pay, "create"),
    )
    assert pi.state is PaymentState.SUCCEEDED
    assert (pi.amount, pi.currency, pi.amount_received, pi.amount_capturable) == (
        1050,
        "usd",
        1050,
        0,
    )
    assert pi.capture_method is CaptureMethod.AUTOMATIC
    assert pi.metadata == {"order": "1", "payment_id": pay}
    assert pi.payment_id == pay
    assert pi.latest_charge_id is not None
    assert pi.latest_charge_id.startswith("ch_")
    assert pi.client_secret

    posts = await localstripe.wait_for_request("POST", "/v1/payment_intents", f"{pay}:create")
    assert [r["target"] for r in posts] == ["/v1/payment_intents"]
    # Every POST so far (the gateway's and the helpers') carried a key.
    assert "-" not in localstripe.idempotency_keys("/v1/")
    charge = await gateway.retrieve_charge(pi.latest_charge_id)
    assert (charge.payment_intent, charge.amount_captured, charge.status) == (
        pi.stripe_id,
        1050,
        "succeeded",
    )


async def test_zero_decimal_amount_is_sent_as_is(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(pay, 500, "jpy", customer.stripe_id, pm),
        idempotency_key=idempotency_key(pay, "create"),
    )
    raw = await localstripe.retrieve("payment_intents", pi.stripe_id)
    assert (raw["amount"], raw["currency"]) == (500, "jpy")
    assert pi.amount_received == 500


async def test_manual_capture_then_partial_capture(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(pay, 1000, "eur", customer.stripe_id, pm, capture_method=CaptureMethod.MANUAL),
        idempotency_key=idempotency_key(pay, "create"),
    )
    assert pi.state is PaymentState.REQUIRES_CAPTURE
    assert (pi.amount_capturable, pi.amount_received) == (1000, 0)
    assert pi.capture_method is CaptureMethod.MANUAL

    captured = await gateway.capture_payment_intent(
        pi.stripe_id, amount_to_capture=600, idempotency_key=idempotency_key(pay, "capture")
    )
    assert captured.state is PaymentState.SUCCEEDED
    assert (captured.amount_received, captured.amount_capturable, captured.amount_refunded) == (
        600,
        0,
        0,
    )

    with pytest.raises((InvalidArgument, FailedPrecondition)):
        await gateway.capture_payment_intent(
            pi.stripe_id, idempotency_key=idempotency_key(pay, "capture2")
        )


async def test_create_then_confirm_with_payment_method(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        NewPaymentIntent(payment_id=pay, amount=700, currency="usd", customer=customer.stripe_id),
        idempotency_key=idempotency_key(pay, "create"),
    )
    assert pi.state is PaymentState.REQUIRES_PAYMENT_METHOD
    confirmed = await gateway.confirm_payment_intent(
        pi.stripe_id, payment_method=pm, idempotency_key=idempotency_key(pay, "confirm")
    )
    assert confirmed.state is PaymentState.SUCCEEDED
    assert confirmed.payment_method == pm


async def test_decline_on_charge_is_card_declined_with_the_payment_intent(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe, DECLINE_ON_CHARGE)
    pay = new_id("pay")
    with pytest.raises(ProcessorCardDeclined) as caught:
        await gateway.create_payment_intent(
            card_payment(pay, 1000, "usd", customer.stripe_id, pm),
            idempotency_key=idempotency_key(pay, "create"),
        )
    error = caught.value
    assert isinstance(error, CardDeclined)
    assert (error.code, error.decline_code, error.reason) == (
        "card_declined",
        "generic_decline",
        "CARD_DECLINED",
    )
    assert error.payment_id == pay
    assert error.payment_intent is not None
    assert error.payment_intent.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert error.payment_intent.last_error_code == "card_declined"
    assert error.payment_intent.amount_received == 0
    assert await localstripe.count_payment_intents(metadata={"payment_id": pay}) == 1


async def test_decline_on_attach_is_card_declined(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer = await gateway.create_customer(
        NewCustomer(account_id="acct_1"), idempotency_key=idempotency_key(new_id("cus"), "create")
    )
    pm = await localstripe.create_card_payment_method(DECLINE_ON_ATTACH)
    with pytest.raises(ProcessorCardDeclined) as caught:
        await gateway.attach_payment_method(
            pm, customer=customer.stripe_id, idempotency_key=idempotency_key(new_id("pm"), "attach")
        )
    assert caught.value.code == "card_declined"
    assert caught.value.payment_intent is None


async def test_three_d_secure_requires_action_then_authenticate(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe, THREE_D_SECURE)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(pay, 2000, "eur", customer.stripe_id, pm),
        idempotency_key=idempotency_key(pay, "create"),
    )
    assert pi.state is PaymentState.REQUIRES_ACTION
    assert pi.next_action_type == "use_stripe_sdk"
    assert pi.client_secret is not None
    assert pi.client_secret.startswith(pi.stripe_id + "_secret_")

    await localstripe.authenticate(pi.stripe_id, success=True)
    after = await gateway.retrieve_payment_intent(pi.stripe_id)
    assert after.state is PaymentState.SUCCEEDED
    assert after.next_action_type is None
    assert after.amount_received == 2000


async def test_failed_authentication_goes_back_to_requires_payment_method(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe, THREE_D_SECURE)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(pay, 2000, "eur", customer.stripe_id, pm),
        idempotency_key=idempotency_key(pay, "create"),
    )
    await localstripe.authenticate(pi.stripe_id, success=False)
    after = await gateway.retrieve_payment_intent(pi.stripe_id)
    assert after.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert after.last_error_code == "payment_intent_authentication_failure"


async def test_cancel(gateway: StripeGateway, localstripe: LocalStripe) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(pay, 1000, "usd", customer.stripe_id, pm, capture_method=CaptureMethod.MANUAL),
        idempotency_key=idempotency_key(pay, "create"),
    )
    canceled = await gateway.cancel_payment_intent(
        pi.stripe_id, reason="requested_by_customer", idempotency_key=idempotency_key(pay, "cancel")
    )
    assert canceled.state is PaymentState.CANCELED
    with pytest.raises(InvalidArgument):
        await gateway.cancel_payment_intent(
            pi.stripe_id, reason="bored", idempotency_key="x:cancel"
        )


async def test_refunds(gateway: StripeGateway, localstripe: LocalStripe) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    pi = await gateway.create_payment_intent(
        card_payment(pay, 1000, "usd", customer.stripe_id, pm),
        idempotency_key=idempotency_key(pay, "create"),
    )
    ref_row = new_id("re")
    refund = await gateway.create_refund(
        NewRefund(
            refund_id=ref_row,
            payment_intent=pi.stripe_id,
            amount=300,
            reason=RefundReason.REQUESTED_BY_CUSTOMER,
        ),
        idempotency_key=idempotency_key(ref_row, "create"),
    )
    assert (refund.amount, refund.currency, refund.state) == (300, "usd", RefundState.SUCCEEDED)
    assert refund.payment_intent == pi.stripe_id
    assert refund.metadata == {"refund_id": ref_row}
    assert (await gateway.retrieve_refund(refund.stripe_id)).amount == 300
    assert [r.stripe_id for r in await gateway.list_refunds(pi.stripe_id)] == [refund.stripe_id]
    after = await gateway.retrieve_payment_intent(pi.stripe_id)
    assert (after.amount_received, after.amount_refunded) == (1000, 300)


async def test_find_payment_intent_by_payment_id(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    customer, pm = await customer_with_card(gateway, localstripe)
    pay = new_id("pay")
    created = await gateway.create_payment_intent(
        card_payment(pay, 1000, "usd", customer.stripe_id, pm, confirm=False),
        idempotency_key=idempotency_key(pay, "create"),
    )
    found = await gateway.find_payment_intent_by_payment_id(pay, customer=customer.stripe_id)
    assert found is not None
    assert found.stripe_id == created.stripe_id
    assert await gateway.find_payment_intent_by_payment_id(pay, customer="cus_other") is None
    assert await gateway.find_payment_intent_by_payment_id(new_id("pay")) is None


async def test_unknown_ids_are_not_found(gateway: StripeGateway) -> None:
    with pytest.raises(NotFound) as caught:
        await gateway.retrieve_payment_intent("pi_doesnotexist")
    assert (caught.value.resource, caught.value.resource_id) == (
        "payment_intent",
        "pi_doesnotexist",
    )
    with pytest.raises(NotFound):
        await gateway.retrieve_customer("cus_doesnotexist")

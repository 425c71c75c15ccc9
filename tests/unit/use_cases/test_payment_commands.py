"""Confirm, capture and cancel over the fakes: one Stripe call per request_id, state rules first."""

from __future__ import annotations

import pytest

from payment_service.domain.entities import Payment
from payment_service.domain.errors import (
    CardDeclined,
    InvalidArgument,
    InvalidTransition,
    NotFound,
    RequestIdReused,
)
from payment_service.domain.states import CaptureMethod, PaymentState
from tests.unit.use_cases.support import ORDERS, STRANGER, Service, payment_request


async def _authorized(service: Service, amount: int = 1000) -> Payment:
    request = payment_request(amount=amount, capture_method=CaptureMethod.MANUAL)
    payment = await service.payments.create(ORDERS, request)
    assert payment.state is PaymentState.REQUIRES_CAPTURE
    return payment


async def test_capture_charges_the_authorized_amount(service: Service) -> None:
    payment = await _authorized(service)

    captured = await service.payments.capture(ORDERS, "cap-1", payment.id)

    assert (captured.state, captured.amount_received) == (PaymentState.SUCCEEDED, 1000)
    assert service.stored(payment.id).version == captured.version
    assert [e.action for e in service.audit_of(payment.id)][-1] == "payments.capture"


async def test_a_replayed_capture_answers_again_without_a_second_stripe_call(
    service: Service,
) -> None:
    payment = await _authorized(service)
    first = await service.payments.capture(ORDERS, "cap-1", payment.id, amount_to_capture=600)

    again = await service.payments.capture(ORDERS, "cap-1", payment.id, amount_to_capture=600)

    assert (again.state, again.amount_received) == (first.state, 600)
    assert service.stripe.calls["capture_payment_intent"] == 1


async def test_a_capture_request_id_reused_for_another_amount_is_refused(
    service: Service,
) -> None:
    payment = await _authorized(service)
    await service.payments.capture(ORDERS, "cap-1", payment.id, amount_to_capture=600)

    with pytest.raises(RequestIdReused):
        await service.payments.capture(ORDERS, "cap-1", payment.id, amount_to_capture=700)


async def test_capturing_more_than_authorized_is_refused_before_stripe(service: Service) -> None:
    payment = await _authorized(service, amount=1000)

    with pytest.raises(InvalidArgument) as raised:
        await service.payments.capture(ORDERS, "cap-1", payment.id, amount_to_capture=1001)

    assert [v.field for v in raised.value.violations] == ["amount_to_capture"]
    assert service.stripe.calls["capture_payment_intent"] == 0


async def test_a_charged_payment_cannot_be_captured_again(service: Service) -> None:
    payment = await service.payments.create(ORDERS, payment_request())

    with pytest.raises(InvalidTransition):
        await service.payments.capture(ORDERS, "cap-1", payment.id)

    assert service.stripe.calls["capture_payment_intent"] == 0


async def test_cancel_releases_an_authorization(service: Service) -> None:
    payment = await _authorized(service)

    canceled = await service.payments.cancel(ORDERS, "cancel-1", payment.id, "abandoned")

    assert canceled.state is PaymentState.CANCELED
    assert service.stripe.payment_intents[canceled.stripe_payment_intent_id or ""].state is (
        PaymentState.CANCELED
    )
    with pytest.raises(InvalidTransition):
        await service.payments.cancel(ORDERS, "cancel-2", payment.id)


async def test_confirm_charges_a_payment_created_unconfirmed(service: Service) -> None:
    payment = await service.payments.create(ORDERS, payment_request(confirm=False))
    assert payment.state is PaymentState.REQUIRES_CONFIRMATION

    confirmed = await service.payments.confirm(ORDERS, "conf-1", payment.id)

    assert (confirmed.state, confirmed.amount_received) == (PaymentState.SUCCEEDED, 1000)


async def test_a_declined_confirm_is_replayed_as_the_same_decline(service: Service) -> None:
    payment = await service.payments.create(ORDERS, payment_request(confirm=False))
    service.stripe.decline_next(decline_code="lost_card")
    with pytest.raises(CardDeclined):
        await service.payments.confirm(ORDERS, "conf-1", payment.id)

    with pytest.raises(CardDeclined) as again:
        await service.payments.confirm(ORDERS, "conf-1", payment.id)

    assert (again.value.decline_code, again.value.payment_id) == ("lost_card", payment.id)
    assert service.stripe.calls["confirm_payment_intent"] == 1
    assert service.stored(payment.id).state is PaymentState.REQUIRES_PAYMENT_METHOD


async def test_a_3ds_card_waits_for_the_customer(service: Service) -> None:
    request = payment_request(payment_method="pm_card_threeDSecure2Required")

    payment = await service.payments.create(ORDERS, request)

    assert (payment.state, payment.next_action_type) == (
        PaymentState.REQUIRES_ACTION,
        "use_stripe_sdk",
    )


async def test_a_caller_of_another_account_cannot_touch_the_payment(service: Service) -> None:
    payment = await _authorized(service)

    with pytest.raises(NotFound):
        await service.payments.capture(STRANGER, "cap-1", payment.id)
    with pytest.raises(NotFound):
        await service.payments.cancel(STRANGER, "cancel-1", payment.id)

    assert service.stored(payment.id).state is PaymentState.REQUIRES_CAPTURE
    assert service.stripe.calls["capture_payment_intent"] == 0

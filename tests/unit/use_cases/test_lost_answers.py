"""A command whose Stripe answer was lost (Stripe acted, the connection dropped) is retried
with the same request_id: the caller gets the success it asked for, never a state error,
and Stripe acts once. The loss is the fake's ``fail_next(..., after=True)``."""

from __future__ import annotations

import pytest

from payment_service.domain.entities import Payment
from payment_service.domain.errors import InvalidTransition, RequestIdReused, Unavailable
from payment_service.domain.states import CaptureMethod, PaymentState
from tests.unit.use_cases.support import ORDERS, Service, payment_request

LOST = Unavailable("Stripe did not answer in time")


async def _unconfirmed(service: Service) -> Payment:
    return await service.payments.create(ORDERS, payment_request(confirm=False))


async def _authorized(service: Service, request_id: str) -> Payment:
    request = payment_request(request_id, capture_method=CaptureMethod.MANUAL)
    return await service.payments.create(ORDERS, request)


async def test_a_retried_confirm_answers_the_success_the_webhook_brought(service: Service) -> None:
    payment = await _unconfirmed(service)
    service.stripe.fail_next("confirm_payment_intent", LOST, after=True)
    with pytest.raises(Unavailable):
        await service.payments.confirm(ORDERS, "confirm-1", payment.id)
    assert service.stored(payment.id).state is PaymentState.REQUIRES_CONFIRMATION
    # The webhook (or the reconciler) stores what Stripe did meanwhile.
    await service.age(payment.id)
    assert (await service.payments.get(ORDERS, payment.id)).state is PaymentState.SUCCEEDED

    again = await service.payments.confirm(ORDERS, "confirm-1", payment.id)

    assert again.state is PaymentState.SUCCEEDED
    assert service.stripe.calls["confirm_payment_intent"] == 1
    assert [e.action for e in service.audit_of(payment.id)].count("payments.confirm") == 1


async def test_a_retried_confirm_without_news_asks_stripe_again_with_the_same_key(
    service: Service,
) -> None:
    payment = await _unconfirmed(service)
    service.stripe.fail_next("confirm_payment_intent", LOST, after=True)
    with pytest.raises(Unavailable):
        await service.payments.confirm(ORDERS, "confirm-1", payment.id)

    again = await service.payments.confirm(ORDERS, "confirm-1", payment.id)

    assert again.state is PaymentState.SUCCEEDED
    assert service.stripe.replays["confirm_payment_intent"] == 1  # Stripe answered from its key
    assert service.stored(payment.id).amount_received == payment.amount


async def test_a_retried_capture_and_cancel_answer_their_success(service: Service) -> None:
    captured = await _authorized(service, "create-1")
    canceled = await _authorized(service, "create-2")
    service.stripe.fail_next("capture_payment_intent", LOST, after=True)
    service.stripe.fail_next("cancel_payment_intent", LOST, after=True)
    with pytest.raises(Unavailable):
        await service.payments.capture(ORDERS, "capture-1", captured.id)
    with pytest.raises(Unavailable):
        await service.payments.cancel(ORDERS, "cancel-1", canceled.id)
    for payment_id in (captured.id, canceled.id):
        await service.age(payment_id)
        await service.payments.get(ORDERS, payment_id)

    assert (await service.payments.capture(ORDERS, "capture-1", captured.id)).state is (
        PaymentState.SUCCEEDED
    )
    assert (await service.payments.cancel(ORDERS, "cancel-1", canceled.id)).state is (
        PaymentState.CANCELED
    )
    assert service.stripe.calls["capture_payment_intent"] == 1
    assert service.stripe.calls["cancel_payment_intent"] == 1


async def test_a_new_request_on_a_finished_payment_is_still_a_state_error(
    service: Service,
) -> None:
    payment = await service.payments.create(ORDERS, payment_request())

    with pytest.raises(InvalidTransition):
        await service.payments.confirm(ORDERS, "confirm-late", payment.id)

    # Refused before it was recorded: the same request_id is free for another body.
    with pytest.raises(InvalidTransition):
        await service.payments.cancel(ORDERS, "confirm-late", payment.id)
    assert service.storage.rows("request_records") == []
    assert service.stripe.calls["confirm_payment_intent"] == 0


async def test_a_pending_request_id_is_still_bound_to_its_body(service: Service) -> None:
    payment = await _unconfirmed(service)
    service.stripe.fail_next("confirm_payment_intent", LOST, after=True)
    with pytest.raises(Unavailable):
        await service.payments.confirm(ORDERS, "confirm-1", payment.id)

    with pytest.raises(RequestIdReused):
        await service.payments.cancel(ORDERS, "confirm-1", payment.id)

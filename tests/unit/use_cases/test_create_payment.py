"""CreatePayment over the fakes: one PaymentIntent per request, replays, declines, outages."""

from __future__ import annotations

import asyncio

import pytest

from payment_service.domain.errors import (
    CardDeclined,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RequestIdReused,
    Unavailable,
)
from payment_service.domain.states import PaymentState
from tests.unit.use_cases.support import ORDERS, SHOPPER, STRANGER, Service, payment_request

DECLINING_CARD = "pm_card_visa_chargeDeclinedInsufficientFunds"


async def test_a_confirmed_payment_is_charged_through_one_payment_intent(service: Service) -> None:
    payment = await service.payments.create(ORDERS, payment_request())

    assert (payment.state, payment.amount_received) == (PaymentState.SUCCEEDED, 1000)
    assert service.stripe.payment_intents_created == 1
    intent = service.stripe.payment_intents[payment.stripe_payment_intent_id or ""]
    assert intent.payment_id == payment.id
    assert service.stored(payment.id).state is PaymentState.SUCCEEDED
    assert [e.action for e in service.audit_of(payment.id)] == [
        "payments.create",
        "payments.stripe_answer",
    ]


async def test_the_same_request_replays_the_payment_without_a_second_intent(
    service: Service,
) -> None:
    first = await service.payments.create(ORDERS, payment_request())
    again = await service.payments.create(ORDERS, payment_request())

    assert (again.id, again.state) == (first.id, PaymentState.SUCCEEDED)
    assert service.stripe.calls["create_payment_intent"] == 1
    assert service.stripe.payment_intents_created == 1


async def test_concurrent_copies_of_one_request_make_one_payment_intent(service: Service) -> None:
    copies = [service.payments.create(ORDERS, payment_request()) for _ in range(5)]
    payments = await asyncio.gather(*copies)

    assert len({p.id for p in payments}) == 1
    assert service.stripe.payment_intents_created == 1
    assert len(service.storage.payments) == 1


async def test_the_same_request_id_with_another_body_is_refused(service: Service) -> None:
    await service.payments.create(ORDERS, payment_request(amount=1000))

    with pytest.raises(RequestIdReused) as raised:
        await service.payments.create(ORDERS, payment_request(amount=2000))

    assert raised.value.metadata == {"request_id": "req-1"}
    assert service.stripe.payment_intents_created == 1


async def test_another_caller_may_reuse_a_request_id(service: Service) -> None:
    mine = await service.payments.create(ORDERS, payment_request())
    theirs = await service.payments.create(SHOPPER, payment_request())

    assert mine.id != theirs.id
    assert service.stripe.payment_intents_created == 2


async def test_a_decline_is_stored_and_answered_as_card_declined(service: Service) -> None:
    with pytest.raises(CardDeclined) as raised:
        await service.payments.create(ORDERS, payment_request(payment_method=DECLINING_CARD))

    declined = raised.value
    stored = service.stored(declined.payment_id)
    assert (declined.code, declined.decline_code) == ("card_declined", "insufficient_funds")
    assert stored.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert stored.last_error_decline_code == "insufficient_funds"
    assert stored.stripe_payment_intent_id is not None
    assert [e.outcome for e in service.audit_of(stored.id)] == ["ok", "CARD_DECLINED"]


async def test_a_replayed_decline_raises_the_same_decline_without_calling_stripe(
    service: Service,
) -> None:
    service.stripe.decline_next(decline_code="do_not_honor")
    with pytest.raises(CardDeclined) as first:
        await service.payments.create(ORDERS, payment_request())

    with pytest.raises(CardDeclined) as again:
        await service.payments.create(ORDERS, payment_request())

    assert (again.value.payment_id, again.value.decline_code) == (
        first.value.payment_id,
        "do_not_honor",
    )
    assert service.stripe.calls["create_payment_intent"] == 1


async def test_stripe_unavailable_leaves_the_payment_pending(service: Service) -> None:
    service.stripe.fail_next("create_payment_intent", Unavailable("Stripe is away"))

    with pytest.raises(Unavailable):
        await service.payments.create(ORDERS, payment_request())

    [pending] = service.storage.payments.values()
    assert (pending.state, pending.stripe_payment_intent_id) == (PaymentState.PENDING, None)
    assert pending.lease_until is None  # given back: the next attempt may go at once
    assert service.stripe.payment_intents_created == 0


async def test_finish_pending_completes_it_with_exactly_one_payment_intent(
    service: Service,
) -> None:
    service.stripe.fail_next("create_payment_intent", Unavailable("Stripe is away"))
    with pytest.raises(Unavailable):
        await service.payments.create(ORDERS, payment_request())
    [pending] = service.storage.payments.values()

    finished = await service.payments.finish_pending(pending.id)

    assert (finished.id, finished.state) == (pending.id, PaymentState.SUCCEEDED)
    assert service.stripe.payment_intents_created == 1
    assert (await service.payments.finish_pending(pending.id)).state is PaymentState.SUCCEEDED
    assert service.stripe.payment_intents_created == 1


async def test_a_lost_answer_is_found_at_stripe_and_not_created_again(service: Service) -> None:
    lost = Unavailable("timed out after Stripe created it")
    service.stripe.fail_next("create_payment_intent", lost, after=True)
    with pytest.raises(Unavailable):
        await service.payments.create(ORDERS, payment_request())
    [pending] = service.storage.payments.values()

    finished = await service.payments.finish_pending(pending.id)

    assert finished.state is PaymentState.SUCCEEDED
    assert service.stripe.calls["create_payment_intent"] == 1
    assert service.stripe.calls["find_payment_intent_by_payment_id"] == 1
    assert service.stripe.payment_intents_created == 1


async def test_a_retry_of_the_request_finishes_a_pending_payment(service: Service) -> None:
    service.stripe.fail_next("create_payment_intent", Unavailable("Stripe is away"))
    with pytest.raises(Unavailable):
        await service.payments.create(ORDERS, payment_request())

    retried = await service.payments.create(ORDERS, payment_request())

    assert retried.state is PaymentState.SUCCEEDED
    assert service.stripe.payment_intents_created == 1


async def test_a_stripe_refusal_fails_the_payment_and_its_replay_says_so(
    service: Service,
) -> None:
    refusal = InvalidArgument.field("payment_method", "Stripe does not take this card")
    service.stripe.fail_next("create_payment_intent", refusal)
    with pytest.raises(InvalidArgument) as raised:
        await service.payments.create(ORDERS, payment_request())
    assert service.stored(raised.value.metadata["payment_id"]).state is PaymentState.FAILED

    with pytest.raises(FailedPrecondition) as replay:
        await service.payments.create(ORDERS, payment_request())
    assert replay.value.reason == "PAYMENT_FAILED"


async def test_an_amount_below_stripes_minimum_is_refused_and_nothing_is_stored(
    service: Service,
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await service.payments.create(ORDERS, payment_request(amount=49))

    assert [v.field for v in raised.value.violations] == ["amount"]
    assert service.storage.commits == 0
    assert sum(service.stripe.calls.values()) == 0


async def test_a_currency_the_service_does_not_take_is_refused(service: Service) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await service.payments.create(ORDERS, payment_request(currency="eur"))

    assert [v.field for v in raised.value.violations] == ["currency_code"]
    assert service.storage.commits == 0


async def test_a_caller_of_another_account_cannot_pay_for_this_one(service: Service) -> None:
    with pytest.raises(NotFound):
        await service.payments.create(STRANGER, payment_request())

    assert service.storage.commits == 0
    assert sum(service.stripe.calls.values()) == 0


async def test_one_stripe_customer_serves_every_payment_of_an_account(service: Service) -> None:
    first = await service.payments.create(ORDERS, payment_request("req-1"))
    second = await service.payments.create(ORDERS, payment_request("req-2"))

    assert service.stripe.calls["create_customer"] == 1
    assert first.stripe_customer_id == second.stripe_customer_id is not None
    [customer] = service.storage.customers.values()
    assert customer.stripe_customer_id == first.stripe_customer_id

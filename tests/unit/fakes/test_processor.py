"""FakeStripe answers like the gateway over Stripe: idempotency, declines, outages, refunds."""

from __future__ import annotations

import pytest

from payment_service.app.ports.processor import EventListing, NewRefund
from payment_service.domain.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from payment_service.domain.processor import NewPaymentIntent, ProcessorCardDeclined
from payment_service.domain.states import CaptureMethod, PaymentState, RefundState
from tests.unit.fakes.processor import FakeStripe


def _intent(payment_id: str = "pay_1", **changes: object) -> NewPaymentIntent:
    values: dict[str, object] = {
        "payment_id": payment_id,
        "amount": 1000,
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": True,
    }
    return NewPaymentIntent(**{**values, **changes})  # type: ignore[arg-type]


async def test_a_repeated_key_gets_the_first_answer_and_creates_nothing(stripe: FakeStripe) -> None:
    first = await stripe.create_payment_intent(_intent(), idempotency_key="pay_1:create")
    again = await stripe.create_payment_intent(_intent(), idempotency_key="pay_1:create")

    assert again == first
    assert (stripe.payment_intents_created, stripe.replays["create_payment_intent"]) == (1, 1)
    assert first.metadata["payment_id"] == "pay_1"
    assert (first.state, first.amount_received) == (PaymentState.SUCCEEDED, 1000)


async def test_a_repeated_key_with_other_parameters_is_an_idempotency_conflict(
    stripe: FakeStripe,
) -> None:
    await stripe.create_payment_intent(_intent(), idempotency_key="k")

    with pytest.raises(FailedPrecondition) as raised:
        await stripe.create_payment_intent(_intent(amount=2000), idempotency_key="k")

    assert raised.value.reason == "PROCESSOR_IDEMPOTENCY_CONFLICT"


async def test_a_decline_carries_the_payment_intent_and_is_replayed_for_its_key(
    stripe: FakeStripe,
) -> None:
    declining = _intent(payment_method="pm_card_visa_chargeDeclined")
    with pytest.raises(ProcessorCardDeclined) as raised:
        await stripe.create_payment_intent(declining, idempotency_key="k")
    with pytest.raises(ProcessorCardDeclined) as replayed:
        await stripe.create_payment_intent(declining, idempotency_key="k")

    intent = raised.value.payment_intent
    assert intent is not None
    assert intent.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert (raised.value.decline_code, raised.value.payment_id) == ("generic_decline", "pay_1")
    assert replayed.value is raised.value
    assert stripe.payment_intents_created == 1


async def test_an_outage_before_the_call_does_nothing(stripe: FakeStripe) -> None:
    stripe.fail_next("create_payment_intent", Unavailable("down"))

    with pytest.raises(Unavailable):
        await stripe.create_payment_intent(_intent(), idempotency_key="k")

    assert stripe.payment_intents_created == 0
    assert (await stripe.create_payment_intent(_intent(), idempotency_key="k")).stripe_id


async def test_an_outage_after_the_call_loses_only_the_answer(stripe: FakeStripe) -> None:
    stripe.fail_next("create_payment_intent", Unavailable("timed out"), after=True)
    with pytest.raises(Unavailable):
        await stripe.create_payment_intent(_intent(), idempotency_key="k")

    found = await stripe.find_payment_intent_by_payment_id("pay_1")
    again = await stripe.create_payment_intent(_intent(), idempotency_key="k")

    assert found is not None
    assert again.stripe_id == found.stripe_id
    assert stripe.payment_intents_created == 1


async def test_unknown_operations_cannot_be_failed(stripe: FakeStripe) -> None:
    with pytest.raises(ValueError, match="no operation"):
        stripe.fail_next("create_paymentintent", Unavailable("typo"))


async def test_amounts_below_the_minimum_are_refused_by_stripe(stripe: FakeStripe) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await stripe.create_payment_intent(_intent(amount=49), idempotency_key="k")

    assert [v.field for v in raised.value.violations] == ["amount"]
    assert stripe.payment_intents_created == 0


async def test_a_manual_intent_is_captured_once_and_only_up_to_its_authorization(
    stripe: FakeStripe,
) -> None:
    new = _intent(capture_method=CaptureMethod.MANUAL)
    authorized = await stripe.create_payment_intent(new, idempotency_key="k")
    with pytest.raises(InvalidArgument):
        await stripe.capture_payment_intent(
            authorized.stripe_id, idempotency_key="c0", amount_to_capture=1001
        )

    captured = await stripe.capture_payment_intent(authorized.stripe_id, idempotency_key="c1")
    with pytest.raises(FailedPrecondition):
        await stripe.capture_payment_intent(authorized.stripe_id, idempotency_key="c2")

    assert authorized.state is PaymentState.REQUIRES_CAPTURE
    assert (captured.state, captured.amount_received) == (PaymentState.SUCCEEDED, 1000)


async def test_refunds_never_exceed_what_was_received(stripe: FakeStripe) -> None:
    paid = await stripe.create_payment_intent(_intent(), idempotency_key="k")
    part = await stripe.create_refund(
        NewRefund(refund_id="rfd_1", payment_intent=paid.stripe_id, amount=600),
        idempotency_key="r1",
    )
    with pytest.raises(FailedPrecondition) as raised:
        await stripe.create_refund(
            NewRefund(refund_id="rfd_2", payment_intent=paid.stripe_id, amount=600),
            idempotency_key="r2",
        )
    rest = await stripe.create_refund(
        NewRefund(refund_id="rfd_3", payment_intent=paid.stripe_id), idempotency_key="r3"
    )

    assert raised.value.reason == "AMOUNT_TOO_LARGE"
    assert (part.amount, rest.amount, rest.state) == (600, 400, RefundState.SUCCEEDED)
    assert rest.metadata["refund_id"] == "rfd_3"
    listed = await stripe.list_refunds(paid.stripe_id)
    assert [r.stripe_id for r in listed] == [rest.stripe_id, part.stripe_id]
    assert (await stripe.retrieve_payment_intent(paid.stripe_id)).amount_refunded == 1000


async def test_a_failed_refund_gives_its_amount_back(stripe: FakeStripe) -> None:
    paid = await stripe.create_payment_intent(_intent(), idempotency_key="k")
    refund = await stripe.create_refund(
        NewRefund(refund_id="rfd_1", payment_intent=paid.stripe_id), idempotency_key="r1"
    )

    stripe.settle_refund(refund.stripe_id, RefundState.FAILED, "lost_or_stolen_card")

    charge = await stripe.retrieve_charge(paid.latest_charge_id or "")
    assert charge.amount_refunded == 0
    assert (await stripe.retrieve_refund(refund.stripe_id)).state is RefundState.FAILED


async def test_unknown_ids_are_not_found(stripe: FakeStripe) -> None:
    with pytest.raises(NotFound):
        await stripe.retrieve_payment_intent("pi_missing")
    with pytest.raises(NotFound):
        await stripe.retrieve_customer("cus_missing")


async def test_events_page_newest_first_with_stripes_cursors(stripe: FakeStripe) -> None:
    events = [stripe.add_event("payment_intent.succeeded", {"id": f"pi_{n}"}) for n in range(5)]
    ids = [e.stripe_id for e in events]

    newest = await stripe.list_events(EventListing(limit=2))
    older = await stripe.list_events(
        EventListing(starting_after=newest.events[-1].stripe_id, limit=2)
    )
    newer = await stripe.list_events(EventListing(ending_before=ids[1], limit=2))

    assert [e.stripe_id for e in newest.events] == [ids[4], ids[3]]
    assert newest.has_more
    assert [e.stripe_id for e in older.events] == [ids[2], ids[1]]
    assert [e.stripe_id for e in newer.events] == [ids[3], ids[2]]
    assert newer.has_more


@pytest.fixture
def stripe() -> FakeStripe:
    return FakeStripe()

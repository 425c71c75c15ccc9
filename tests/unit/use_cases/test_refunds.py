"""CreateRefund and the refund repair over the fakes: reservations, replays, outages."""

from __future__ import annotations

import pytest

from payment_service.app.refunds.rules import ListRefunds
from payment_service.domain.entities import Payment
from payment_service.domain.errors import (
    FailedPrecondition,
    NotFound,
    RequestIdReused,
    Unavailable,
)
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import CaptureMethod, PaymentRefundState, RefundState
from tests.unit.use_cases.support import (
    ORDERS,
    SHOPPER,
    STRANGER,
    Service,
    payment_request,
    refund_request,
)


async def _paid(service: Service, amount: int = 1000) -> Payment:
    return await service.payments.create(ORDERS, payment_request(amount=amount))


async def _pending_refund(service: Service, payment: Payment, amount: int, *, lost: bool) -> str:
    """A refund whose Stripe call failed (``lost``: after Stripe made it); its id."""
    service.stripe.fail_next("create_refund", Unavailable("Stripe is away"), after=lost)
    with pytest.raises(Unavailable) as raised:
        await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", amount))
    return raised.value.metadata["refund_id"]


async def test_partial_refunds_never_exceed_the_captured_amount(service: Service) -> None:
    payment = await _paid(service, amount=1000)
    first = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 600))

    with pytest.raises(FailedPrecondition) as raised:
        await service.refunds.create(ORDERS, refund_request(payment.id, "rf-2", 600))

    assert first.state is RefundState.SUCCEEDED
    assert raised.value.reason == "REFUND_EXCEEDS_REFUNDABLE"
    assert raised.value.metadata["refundable"] == "400"
    assert service.stripe.refunds_created == 1
    assert len(service.storage.refunds) == 1


async def test_a_refund_without_an_amount_refunds_what_is_left(service: Service) -> None:
    payment = await _paid(service, amount=1000)
    await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 600))

    rest = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-2", None))

    assert (rest.amount, rest.state) == (400, RefundState.SUCCEEDED)
    refunded = service.stored(payment.id)
    assert (refunded.amount_refunded, refunded.refund_state) == (1000, PaymentRefundState.REFUNDED)
    with pytest.raises(FailedPrecondition):
        await service.refunds.create(ORDERS, refund_request(payment.id, "rf-3", None))


async def test_a_replayed_refund_makes_one_stripe_refund(service: Service) -> None:
    payment = await _paid(service)
    first = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 300))

    again = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 300))

    assert (again.id, again.stripe_refund_id) == (first.id, first.stripe_refund_id)
    assert service.stripe.calls["create_refund"] == 1
    assert service.stored(payment.id).amount_refunded == 300


async def test_a_refund_request_id_reused_for_another_amount_is_refused(
    service: Service,
) -> None:
    payment = await _paid(service)
    await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 300))

    with pytest.raises(RequestIdReused):
        await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 400))


async def test_stripe_unavailable_leaves_the_refund_pending_and_its_amount_reserved(
    service: Service,
) -> None:
    payment = await _paid(service, amount=1000)
    refund_id = await _pending_refund(service, payment, 600, lost=False)

    pending = service.storage.refunds[refund_id]
    assert (pending.state, pending.stripe_refund_id) == (RefundState.PENDING, None)
    with pytest.raises(FailedPrecondition) as raised:
        await service.refunds.create(ORDERS, refund_request(payment.id, "rf-2", 401))
    assert raised.value.metadata["refundable"] == "400"
    assert service.stripe.refunds_created == 0


async def test_repair_pending_finishes_a_pending_refund_exactly_once(service: Service) -> None:
    payment = await _paid(service)
    refund_id = await _pending_refund(service, payment, 600, lost=False)

    report = await service.refunds.repair_pending()
    again = await service.refunds.repair_pending()

    assert (report.repaired, report.unresolved, report.errors) == (1, 0, 0)
    assert (again.repaired, again.unresolved) == (0, 0)
    assert service.storage.refunds[refund_id].state is RefundState.SUCCEEDED
    assert service.stripe.refunds_created == 1
    assert service.stored(payment.id).amount_refunded == 600


async def test_a_lost_refund_answer_is_adopted_not_refunded_twice(service: Service) -> None:
    payment = await _paid(service)
    refund_id = await _pending_refund(service, payment, 600, lost=True)
    assert service.stripe.refunds_created == 1

    report = await service.refunds.repair_pending()

    assert report.repaired == 1
    [at_stripe] = service.stripe.refunds.values()
    assert service.storage.refunds[refund_id].stripe_refund_id == at_stripe.stripe_id
    assert service.stripe.calls["create_refund"] == 1


async def test_a_retry_with_the_same_request_id_finishes_a_pending_refund(
    service: Service,
) -> None:
    payment = await _paid(service)
    refund_id = await _pending_refund(service, payment, 600, lost=False)

    done = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 600))

    assert (done.id, done.state) == (refund_id, RefundState.SUCCEEDED)
    assert service.stripe.refunds_created == 1


async def test_repair_stops_at_an_outage_and_leaves_the_refund_pending(service: Service) -> None:
    payment = await _paid(service)
    refund_id = await _pending_refund(service, payment, 600, lost=False)
    service.stripe.fail_next("list_refunds", Unavailable("Stripe is still away"))

    report = await service.refunds.repair_pending()

    assert (report.repaired, report.unresolved, report.errors) == (0, 1, 1)
    assert service.storage.refunds[refund_id].state is RefundState.PENDING


async def test_a_refund_pending_at_stripe_settles_when_read_again(service: Service) -> None:
    payment = await _paid(service)
    service.stripe.next_refund_state = RefundState.PENDING
    refund = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 250))
    assert (refund.state, refund.stripe_refund_id is not None) == (RefundState.PENDING, True)

    service.stripe.settle_refund(refund.stripe_refund_id or "", RefundState.SUCCEEDED)
    settled = await service.refunds.finish_pending(refund.id)

    assert settled.state is RefundState.SUCCEEDED
    assert service.stored(payment.id).amount_refunded == 250


async def test_a_refund_stripe_refuses_gives_its_amount_back(service: Service) -> None:
    payment = await _paid(service, amount=1000)
    refusal = FailedPrecondition("the charge is disputed", reason="CHARGE_DISPUTED")
    service.stripe.fail_next("create_refund", refusal)
    with pytest.raises(FailedPrecondition) as raised:
        await service.refunds.create(ORDERS, refund_request(payment.id, "rf-1", 600))
    assert raised.value.reason == "REFUND_REJECTED"

    whole = await service.refunds.create(ORDERS, refund_request(payment.id, "rf-2", 1000))

    assert whole.state is RefundState.SUCCEEDED
    states = sorted(r.state.value for r in service.storage.refunds.values())
    assert states == ["failed", "succeeded"]


async def test_only_a_succeeded_payment_is_refunded(service: Service) -> None:
    request = payment_request(capture_method=CaptureMethod.MANUAL)
    authorized = await service.payments.create(ORDERS, request)

    with pytest.raises(FailedPrecondition) as raised:
        await service.refunds.create(ORDERS, refund_request(authorized.id, "rf-1", 100))

    assert raised.value.reason == "PAYMENT_NOT_REFUNDABLE"
    assert service.stripe.calls["create_refund"] == 0


async def test_another_accounts_payment_cannot_be_refunded_or_seen(service: Service) -> None:
    payment = await _paid(service)
    refund = await service.refunds.create(SHOPPER, refund_request(payment.id, "rf-1", 100))

    with pytest.raises(NotFound):
        await service.refunds.create(STRANGER, refund_request(payment.id, "rf-2", 100))
    with pytest.raises(NotFound):
        await service.refunds.get(STRANGER, refund.id)

    assert service.stripe.refunds_created == 1


async def test_a_payments_refunds_are_listed_newest_first(service: Service) -> None:
    payment = await _paid(service)
    made = [
        await service.refunds.create(ORDERS, refund_request(payment.id, f"rf-{n}", 100))
        for n in range(3)
    ]

    page = await service.refunds.list(SHOPPER, ListRefunds(PageRequest(), payment_id=payment.id))

    assert [r.id for r in page.items] == [r.id for r in reversed(made)]

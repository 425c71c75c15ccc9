"""CreatePayment, ConfirmPayment, CapturePayment, CancelPayment and CreateRefund crashed
after Stripe answered."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from payments.v1 import common_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import refund_service_pb2 as refund_pb

from payment_service.domain.states import PaymentState, RefundState
from tests.e2e.crash.matrix import Case, Write
from tests.e2e.crash.support import CALLER, World, audit_actions, request_id, stored_payment

AMOUNT = 4200
REFUNDED = 1000


async def _create(world: World, **fields: Any) -> pb.Payment:
    pm = await world.localstripe.create_card_payment_method()
    response = await world.payments.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=request_id(),
            account_id=world.account_id,
            amount=AMOUNT,
            currency_code="usd",
            stripe_payment_method_id=pm,
            **fields,
        ),
        metadata=world.auth(),
        timeout=20,
    )
    payment: pb.Payment = response.payment
    return payment


async def _at_stripe_once(world: World, payment_id: str, status: str) -> None:
    """One PaymentIntent for the payment, in ``status``, and our row says what it says."""
    intents = [
        pi
        for pi in await world.localstripe.list_objects("payment_intents")
        if pi["metadata"].get("payment_id") == payment_id
    ]
    assert [pi["status"] for pi in intents] == [status]
    row = await stored_payment(world.uow_factory, payment_id)
    assert row.stripe_payment_intent_id == intents[0]["id"]
    assert row.state is PaymentState(status)
    assert row.amount == intents[0]["amount"]


async def _refreshed(world: World, payment_id: str, state: int) -> None:
    """GetPayment re-reads the stale payment from Stripe (a webhook would bring the same)."""
    response = await world.payments.GetPayment(
        pb.GetPaymentRequest(id=payment_id), metadata=world.auth(), timeout=20
    )
    assert response.payment.state == state


def _command(
    world: World, payment_id: str, send: Any, state: int, status: str, action: str
) -> Write:
    """A command on an existing payment: refreshed meanwhile, audited once."""

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.Payment)
        assert answer.state == state
        await _at_stripe_once(world, payment_id, status)
        actions = await audit_actions(world.uow_factory, "payment", payment_id)
        assert actions.count(action) == 1, actions

    return Write(send, lambda: _refreshed(world, payment_id, state), check)


async def confirm(world: World) -> Write:
    created = await _create(world, confirm=False)
    request = pb.ConfirmPaymentRequest(request_id=request_id(), id=created.id)

    async def send() -> Message:
        response = await world.payments.ConfirmPayment(request, metadata=world.auth(), timeout=20)
        payment: pb.Payment = response.payment
        return payment

    return _command(
        world, created.id, send, pb.PAYMENT_STATE_SUCCEEDED, "succeeded", "payments.confirm"
    )


async def capture(world: World) -> Write:
    created = await _create(world, confirm=True, capture_method=common_pb2.CAPTURE_METHOD_MANUAL)
    assert created.state == pb.PAYMENT_STATE_REQUIRES_CAPTURE
    request = pb.CapturePaymentRequest(request_id=request_id(), id=created.id)

    async def send() -> Message:
        response = await world.payments.CapturePayment(request, metadata=world.auth(), timeout=20)
        payment: pb.Payment = response.payment
        return payment

    return _command(
        world, created.id, send, pb.PAYMENT_STATE_SUCCEEDED, "succeeded", "payments.capture"
    )


async def cancel(world: World) -> Write:
    created = await _create(world, confirm=False)
    request = pb.CancelPaymentRequest(request_id=request_id(), id=created.id)

    async def send() -> Message:
        response = await world.payments.CancelPayment(request, metadata=world.auth(), timeout=20)
        payment: pb.Payment = response.payment
        return payment

    return _command(
        world, created.id, send, pb.PAYMENT_STATE_CANCELED, "canceled", "payments.cancel"
    )


async def create(world: World) -> Write:
    pm = await world.localstripe.create_card_payment_method()
    request = pb.CreatePaymentRequest(
        request_id=request_id(),
        account_id=world.account_id,
        amount=AMOUNT,
        currency_code="usd",
        stripe_payment_method_id=pm,
        confirm=True,
    )

    async def send() -> Message:
        response = await world.payments.CreatePayment(request, metadata=world.auth(), timeout=20)
        payment: pb.Payment = response.payment
        return payment

    async def arrive() -> None:
        """The reconciler finishes the payment the crash left PENDING."""

        async def row(uow: Any) -> Any:
            return await uow.payments.find_by_request(CALLER, request.request_id)

        await world.lease_over(row)
        pending = await world.stored(row)
        async with world.reconciler() as services:
            finished = await services.payments.finish_pending(pending.id)
        assert finished.state is PaymentState.SUCCEEDED

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.Payment)
        assert answer.state == pb.PAYMENT_STATE_SUCCEEDED
        assert answer.amount_received == AMOUNT
        await _at_stripe_once(world, answer.id, "succeeded")

    return Write(send, arrive, check)


async def refund(world: World) -> Write:
    paid = await _create(world, confirm=True)
    assert paid.state == pb.PAYMENT_STATE_SUCCEEDED
    request = refund_pb.CreateRefundRequest(
        request_id=request_id(), payment_id=paid.id, amount=REFUNDED
    )

    async def send() -> Message:
        response = await world.refunds.CreateRefund(request, metadata=world.auth(), timeout=20)
        made: refund_pb.Refund = response.refund
        return made

    async def row(uow: Any) -> Any:
        return await uow.refunds.find_by_request(CALLER, request.request_id)

    async def arrive() -> None:
        """The reconciler adopts the refund Stripe made for the PENDING row."""
        await world.lease_over(row)
        pending = await world.stored(row)
        async with world.reconciler() as services:
            finished = await services.refunds.finish_pending(pending.id)
        assert finished.state is RefundState.SUCCEEDED

    async def check(answer: Message) -> None:
        assert isinstance(answer, refund_pb.Refund)
        assert answer.state == refund_pb.REFUND_STATE_SUCCEEDED
        assert answer.amount == REFUNDED
        made = [
            r
            for r in await world.localstripe.list_objects("refunds")
            if r["metadata"].get("refund_id") == answer.id
        ]
        assert [(r["amount"], r["status"]) for r in made] == [(REFUNDED, "succeeded")]
        stored = await world.stored(row)
        assert stored.stripe_refund_id == made[0]["id"]
        assert stored.state is RefundState.SUCCEEDED
        payment = await stored_payment(world.uow_factory, paid.id)
        assert payment.amount_refunded == REFUNDED

    return Write(send, arrive, check)


# A create retried finds what the crashed call made at Stripe (by our id in its metadata).
CASES = (
    Case("payments.create", "payments.create.after_stripe", create, resends=frozenset()),
    Case("payments.confirm", "payments.confirm.after_stripe", confirm),
    Case("payments.capture", "payments.capture.after_stripe", capture),
    Case("payments.cancel", "payments.cancel.after_stripe", cancel),
    Case("refunds.create", "refunds.create.after_stripe", refund, resends=frozenset()),
)

"""Cards saved for later and disputes, end to end over gRPC (on each database backend):
a SetupIntent saves a 3-D Secure card, an off-session charge of it needs authentication and
is confirmed on-session; a dispute is opened by the bank, evidenced, won or accepted as lost,
all through Stripe's events; a disputed payment's refund is refused before Stripe is called;
the reconciler's gauges count open disputes and evidence due within 72 hours.

localstripe plays Stripe with our patch layers (tools/localstripe_saved_cards.py,
tools/localstripe_disputes.py): it has no disputes and no SetupIntent flow of its own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import pytest
import pytest_asyncio
from payments.v1 import dispute_service_pb2 as dpb
from payments.v1 import dispute_service_pb2_grpc
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import refund_service_pb2 as rpb

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from tests.e2e.billing.support import (
    account,
    register_webhooks,
    rejected,
    request_id,
    unregister_webhooks,
    wait_for,
)
from tests.integration.webhooks.support import SECRET
from tests.support.localstripe import LocalStripe
from tests.support.stack import Stack, auth, stack_settings, start_stack

VISA = "4242424242424242"
THREE_D_SECURE = "4000002760003184"  # every charge needs authentication
T = 20  # seconds per call


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    """A localstripe of this module's own: the stacks here run the reconciler (for the
    dispute gauges), whose catch-up reads Stripe's whole event history."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> AsyncIterator[Stack]:
    settings = stack_settings(
        database_url,
        localstripe.base_url,
        payment_refresh_after_s=0.5,
        stripe_webhook_secrets=[SECRET],
        webhook_retry_poll_s=0.2,
        webhook_retry_base_s=0.2,
        reconcile_interval_s=0.5,
    )
    running = await start_stack(settings)
    webhook_id = await register_webhooks(localstripe, running)
    try:
        yield running
    finally:
        await unregister_webhooks(localstripe, running, webhook_id)
        await running.stop()


def _disputes(stack: Stack) -> dispute_service_pb2_grpc.DisputeServiceStub:
    return dispute_service_pb2_grpc.DisputeServiceStub(stack.channel)


async def _paid(stack: Stack, localstripe: LocalStripe, account_id: str) -> tuple[pb.Payment, str]:
    """A succeeded payment and its Stripe charge."""
    pm = await localstripe.create_card_payment_method(VISA)
    created = await stack.payments.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=request_id(),
            account_id=account_id,
            amount=2500,
            currency_code="usd",
            stripe_payment_method_id=pm,
            confirm=True,
        ),
        metadata=auth(),
        timeout=T,
    )
    assert created.payment.state == pb.PAYMENT_STATE_SUCCEEDED
    intent = await localstripe.retrieve("payment_intents", created.payment.stripe_payment_intent_id)
    return created.payment, str(intent["latest_charge"]["id"])


async def _dispute_of(stack: Stack, payment_id: str, state: int) -> dpb.Dispute:
    async def found() -> dpb.Dispute | None:
        page = await _disputes(stack).ListDisputes(
            dpb.ListDisputesRequest(payment_id=payment_id), metadata=auth(), timeout=T
        )
        return next((d for d in page.disputes if d.state == state), None)

    return await wait_for(found, what=f"a dispute of {payment_id} in state {state}")


async def _payment(stack: Stack, payment_id: str) -> pb.Payment:
    got = await stack.payments.GetPayment(pb.GetPaymentRequest(id=payment_id), metadata=auth())
    return got.payment


async def _saved_card(stack: Stack, localstripe: LocalStripe, account_id: str) -> str:
    """A 3-D Secure card saved for the account through a SetupIntent; its Stripe id."""
    rid = request_id()
    ask = pb.CreateSetupIntentRequest(request_id=rid, account_id=account_id)
    setup = (await stack.payments.CreateSetupIntent(ask, metadata=auth(), timeout=T)).setup_intent
    assert setup.state == pb.SETUP_INTENT_STATE_REQUIRES_PAYMENT_METHOD
    assert setup.usage == pb.PAYMENT_METHOD_USAGE_OFF_SESSION
    assert setup.client_secret
    again = await stack.payments.CreateSetupIntent(ask, metadata=auth(), timeout=T)
    assert again.setup_intent.id == setup.id

    # The client (Stripe.js) confirms the card, the customer passes 3-D Secure.
    pm = await localstripe.create_card_payment_method(THREE_D_SECURE)
    await localstripe.confirm_setup_intent(setup.stripe_setup_intent_id, pm)
    await localstripe.authenticate_setup_intent(setup.stripe_setup_intent_id)

    async def saved() -> pb.SetupIntent | None:
        got = await stack.payments.GetSetupIntent(
            pb.GetSetupIntentRequest(id=setup.id), metadata=auth(), timeout=T
        )
        return got.setup_intent if got.setup_intent.payment_method_id else None

    done = await wait_for(saved, what="the SetupIntent's card attached")
    assert (done.state, done.stripe_payment_method_id) == (pb.SETUP_INTENT_STATE_SUCCEEDED, pm)
    methods = await stack.payments.ListPaymentMethods(
        pb.ListPaymentMethodsRequest(account_id=account_id), metadata=auth(), timeout=T
    )
    assert [m.id for m in methods.payment_methods] == [done.payment_method_id]
    return pm


async def test_a_saved_card_charged_off_session_is_authenticated_on_session(
    stack: Stack, localstripe: LocalStripe
) -> None:
    account_id = account()
    pm = await _saved_card(stack, localstripe, account_id)
    # Charged later with the customer away: the bank wants authentication.
    charge = pb.CreatePaymentRequest(
        request_id=request_id(),
        account_id=account_id,
        amount=1800,
        currency_code="usd",
        stripe_payment_method_id=pm,
        off_session=True,
    )
    refusal = await rejected(stack.payments.CreatePayment(charge, metadata=auth(), timeout=T))
    assert (refusal.code, refusal.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "AUTHENTICATION_REQUIRED",
    )
    payment_id = refusal.metadata["payment_id"]
    replayed = await rejected(stack.payments.CreatePayment(charge, metadata=auth(), timeout=T))
    assert (replayed.reason, replayed.metadata["payment_id"]) == (refusal.reason, payment_id)
    stored = await _payment(stack, payment_id)
    assert stored.state == pb.PAYMENT_STATE_REQUIRES_PAYMENT_METHOD
    assert stored.off_session
    assert stored.last_error.code == "authentication_required"

    # The customer is back: the same payment is confirmed on-session, then authenticated.
    confirmed = await stack.payments.ConfirmPayment(
        pb.ConfirmPaymentRequest(request_id=request_id(), id=payment_id), metadata=auth(), timeout=T
    )
    assert confirmed.payment.state == pb.PAYMENT_STATE_REQUIRES_ACTION
    assert confirmed.payment.client_secret
    assert confirmed.payment.next_action.type
    await localstripe.authenticate(confirmed.payment.stripe_payment_intent_id)

    async def succeeded() -> pb.Payment | None:
        payment = await _payment(stack, payment_id)
        return payment if payment.state == pb.PAYMENT_STATE_SUCCEEDED else None

    assert (await wait_for(succeeded, what="the payment succeeded")).amount_received == 1800


async def test_a_dispute_is_evidenced_and_won_and_its_payment_is_not_refunded(
    stack: Stack, localstripe: LocalStripe
) -> None:
    account_id = account()
    payment, charge = await _paid(stack, localstripe, account_id)
    opened = await localstripe.open_dispute(charge, reason="product_not_received", due_in="3600")
    dispute = await _dispute_of(stack, payment.id, dpb.DISPUTE_STATE_NEEDS_RESPONSE)
    assert (dispute.stripe_dispute_id, dispute.amount, dispute.reason) == (
        opened["id"],
        2500,
        "product_not_received",
    )
    assert dispute.account_id == account_id
    assert not dispute.payment_refundable
    funds = await wait_for(
        lambda: _withdrawn(stack, dispute.id), what="the dispute's funds withdrawn"
    )
    assert funds.evidence_due_time.seconds == opened["evidence_details"]["due_by"]
    shown = await _payment(stack, payment.id)
    assert (shown.disputed, shown.dispute_id) == (True, dispute.id)
    await _gauges_reach(stack, open_disputes=1, due_soon=1)

    await _refund_refused(stack, localstripe, payment.id, dispute.id)

    await _evidence_given_and_submitted(stack, dispute.id)

    await localstripe.decide_dispute(opened["id"], "won")
    won = await _dispute_of(stack, payment.id, dpb.DISPUTE_STATE_WON)
    assert won.funds_reinstated
    assert won.funds_withdrawn
    listed = await _disputes(stack).ListDisputes(
        dpb.ListDisputesRequest(account_id=account_id, states=[dpb.DISPUTE_STATE_WON]),
        metadata=auth(),
        timeout=T,
    )
    assert [d.id for d in listed.disputes] == [dispute.id]
    await _gauges_reach(stack, open_disputes=0, due_soon=0)


async def test_a_dispute_accepted_is_lost_and_closed_for_good(
    stack: Stack, localstripe: LocalStripe
) -> None:
    account_id = account()
    payment, charge = await _paid(stack, localstripe, account_id)
    await localstripe.open_dispute(charge)
    dispute = await _dispute_of(stack, payment.id, dpb.DISPUTE_STATE_NEEDS_RESPONSE)
    other_account = await rejected(
        _disputes(stack).GetDispute(
            dpb.GetDisputeRequest(id=dispute.id), metadata=auth(account_id=account()), timeout=T
        )
    )
    assert other_account.code == grpc.StatusCode.NOT_FOUND

    close = dpb.CloseDisputeRequest(request_id=request_id(), id=dispute.id)
    lost = (await _disputes(stack).CloseDispute(close, metadata=auth(), timeout=T)).dispute
    assert lost.state == dpb.DISPUTE_STATE_LOST
    assert lost.evidence_due_time.seconds == 0
    replay = await _disputes(stack).CloseDispute(close, metadata=auth(), timeout=T)
    assert replay.dispute.id == dispute.id
    again = await rejected(
        _disputes(stack).CloseDispute(
            dpb.CloseDisputeRequest(request_id=request_id(), id=dispute.id), metadata=auth()
        )
    )
    assert again.code == grpc.StatusCode.FAILED_PRECONDITION
    got = await _disputes(stack).GetDispute(
        dpb.GetDisputeRequest(id=dispute.id), metadata=auth(), timeout=T
    )
    assert got.dispute.state == dpb.DISPUTE_STATE_LOST
    assert (await _payment(stack, payment.id)).disputed


async def _refund_refused(
    stack: Stack, localstripe: LocalStripe, payment_id: str, dispute_id: str
) -> None:
    """CreateRefund of the disputed payment: refused here, nothing sent to Stripe."""
    refunds_sent = len(localstripe.requests("POST", "/v1/refunds"))
    refusal = await rejected(
        stack.refunds.CreateRefund(
            rpb.CreateRefundRequest(request_id=request_id(), payment_id=payment_id),
            metadata=auth(),
            timeout=T,
        )
    )
    assert (refusal.code, refusal.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PAYMENT_DISPUTED",
    )
    assert refusal.metadata["dispute_id"] == dispute_id
    assert len(localstripe.requests("POST", "/v1/refunds")) == refunds_sent


async def _evidence_given_and_submitted(stack: Stack, dispute_id: str) -> None:
    """Evidence added (replayed, and refused with the request_id reused), then more given and
    submitted: under review, and no evidence taken after."""
    note = dpb.UpdateDisputeEvidenceRequest(
        request_id=request_id(),
        id=dispute_id,
        evidence=dpb.DisputeEvidence(product_description="A blue mug", customer_name="Ada"),
    )
    noted = (await _disputes(stack).UpdateDisputeEvidence(note, metadata=auth(), timeout=T)).dispute
    assert noted.state == dpb.DISPUTE_STATE_NEEDS_RESPONSE
    assert noted.evidence.product_description == "A blue mug"
    assert not noted.evidence_submitted
    again = await _disputes(stack).UpdateDisputeEvidence(note, metadata=auth(), timeout=T)
    assert again.dispute.evidence == noted.evidence
    note.submit = True
    reused = await rejected(_disputes(stack).UpdateDisputeEvidence(note, metadata=auth()))
    assert reused.reason == "REQUEST_ID_REUSED"

    submit = dpb.UpdateDisputeEvidenceRequest(
        request_id=request_id(),
        id=dispute_id,
        evidence=dpb.DisputeEvidence(shipping_tracking_number="1Z999"),
        submit=True,
    )
    sent = (
        await _disputes(stack).UpdateDisputeEvidence(submit, metadata=auth(), timeout=T)
    ).dispute
    assert (sent.state, sent.evidence_submitted) == (dpb.DISPUTE_STATE_UNDER_REVIEW, True)
    assert (sent.evidence.customer_name, sent.evidence.shipping_tracking_number) == ("Ada", "1Z999")
    submit.request_id = request_id()
    late = await rejected(_disputes(stack).UpdateDisputeEvidence(submit, metadata=auth()))
    assert (late.code, late.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_STATE_TRANSITION",
    )


async def _withdrawn(stack: Stack, dispute_id: str) -> dpb.Dispute | None:
    got = await _disputes(stack).GetDispute(
        dpb.GetDisputeRequest(id=dispute_id), metadata=auth(), timeout=T
    )
    return got.dispute if got.dispute.funds_withdrawn else None


async def _gauges_reach(stack: Stack, *, open_disputes: int, due_soon: int) -> None:
    async def read() -> bool:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stack.http_url}/metrics") as response,
        ):
            text = await response.text()
        values = {
            name: float(value)
            for name, value in re.findall(r"^(disputes_\w+) (\S+)$", text, re.MULTILINE)
        }
        return values == {
            "disputes_open": open_disputes,
            "disputes_evidence_due_soon": due_soon,
        }

    await wait_for(read, what=f"{open_disputes} open disputes, {due_soon} due soon")

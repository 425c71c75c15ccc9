"""Crash after Stripe answered, before the commit; restart; retry with the same request_id:
the same answer, one Stripe object (issue 11; defect 1: a retried ConfirmPayment failed
with INVALID_STATE_TRANSITION once the webhook or the reconciler had marked it SUCCEEDED).

The first test kills the real server process (SIGKILL through PAYMENT_TEST_FAILPOINTS).
The matrix (tests/e2e/crash/) simulates the same crash in-process for every write: the
failpoint raises, so nothing after it runs; the stack is then stopped and a fresh one is
built over the same database (no locks, no caches) before the retry, made at once (Stripe
replays the crashed call's idempotency key: tools/localstripe_idempotency.py) or after the
object got where the write wanted it. Every backend.
"""

from __future__ import annotations

import uuid

import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.states import PaymentState
from tests.e2e.crash.cases import CASES
from tests.e2e.crash.matrix import Case, Retry, run_case
from tests.e2e.crash.support import audit_actions, stored_payment
from tests.e2e.test_webhooks_delivery import webhook_server_env
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token

FAILPOINTS = "PAYMENT_TEST_FAILPOINTS"


def _auth() -> tuple[tuple[str, str], ...]:
    return bearer(make_token())


async def _create_unconfirmed(target: str, pm: str) -> pb.Payment:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        response = await stub.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=f"req-{uuid.uuid4()}",
                account_id=f"acct_{uuid.uuid4().hex[:12]}",
                amount=4200,
                currency_code="usd",
                stripe_payment_method_id=pm,
                confirm=False,
            ),
            metadata=_auth(),
            timeout=20,
        )
    return response.payment


async def test_confirm_retried_after_a_crash_answers_the_success_the_refresh_brought(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    # GetPayment re-reads a non-final payment from Stripe whenever it is asked.
    env = webhook_server_env(database_url, localstripe, payment_refresh_after_s="0")
    pm = await localstripe.create_card_payment_method()
    confirm = pb.ConfirmPaymentRequest(request_id=f"req-{uuid.uuid4()}")
    with ServerProcess.start({**env, FAILPOINTS: "payments.confirm.after_stripe"}) as crashing:
        created = await _create_unconfirmed(crashing.grpc_target, pm)
        assert created.state == pb.PAYMENT_STATE_REQUIRES_CONFIRMATION
        confirm.id = created.id
        async with grpc.aio.insecure_channel(crashing.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.ConfirmPayment(confirm, metadata=_auth(), timeout=20)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert crashing.wait(10) == -9  # SIGKILL, as a power cut would
    # Stripe confirmed it; our row never heard.
    intent = await localstripe.retrieve("payment_intents", created.stripe_payment_intent_id)
    assert intent["status"] == "succeeded"
    stale = await stored_payment(uow_factory, created.id)
    assert stale.state is PaymentState.REQUIRES_CONFIRMATION

    with ServerProcess.start(env) as restarted:
        async with grpc.aio.insecure_channel(restarted.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            read = await stub.GetPayment(
                pb.GetPaymentRequest(id=created.id), metadata=_auth(), timeout=20
            )
            assert read.payment.state == pb.PAYMENT_STATE_SUCCEEDED  # the success arrived
            retried = await stub.ConfirmPayment(confirm, metadata=_auth(), timeout=20)
            replayed = await stub.ConfirmPayment(confirm, metadata=_auth(), timeout=20)
    assert retried.payment.state == pb.PAYMENT_STATE_SUCCEEDED
    assert retried.payment.amount_received == 4200
    assert replayed.payment == retried.payment
    metadata = {"payment_id": created.id}
    assert await localstripe.count_payment_intents(metadata=metadata) == 1
    actions = await audit_actions(uow_factory, "payment", created.id)
    assert actions.count("payments.confirm") == 1


RUNS = [
    pytest.param(case, retry, id=f"{case.name}-{retry.value}") for case in CASES for retry in Retry
]


@pytest.mark.parametrize(("case", "retry"), RUNS)
async def test_a_write_crashed_after_stripe_answered_is_retried_to_the_same_answer(
    case: Case,
    retry: Retry,
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
) -> None:
    await run_case(case, retry, database_url, uow_factory, localstripe)

"""The reconciler against the real server process: a crash mid-create, and events missed
while the sidecar was down. Runs on every database backend."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.domain.clock import utcnow
from payment_service.domain.states import PaymentState
from tests.e2e.test_webhooks_delivery import (
    WEBHOOK_PATH,
    run_cli,
    stored_event_for,
    wait_for,
    webhook_server_env,
)
from tests.integration.webhooks.support import SECRET
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token

FAILPOINTS = "PAYMENT_TEST_FAILPOINTS"

# A short Stripe timeout keeps the create lease (timeout x attempts + 5 s) short.
FAST_LEASE = {"stripe_timeout_s": "1", "stripe_max_network_retries": "0"}
# An operator's pass reads Stripe's whole event history (the suite's shared localstripe
# holds every test's events): it gets the normal timeout, only the crashing server's
# lease needs the short one.
PATIENT_PASS = {"PAYMENT_STRIPE_TIMEOUT_S": "20"}


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    """A localstripe of this module's own: the reconciler's catch-up reads Stripe's whole
    event history, and the suite's shared one grows with every test (under load, past
    any sensible timeout)."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()


def _create_request(pm: str, *, confirm: bool) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"req-{uuid.uuid4()}",
        account_id=f"acct_{uuid.uuid4().hex[:12]}",
        amount=4200,
        currency_code="usd",
        stripe_payment_method_id=pm,
        confirm=confirm,
    )


async def _pending(uow_factory: SqlUnitOfWorkFactory) -> list[Any]:
    async with uow_factory(read_only=True) as uow:
        return await uow.payments.list_pending(utcnow() + timedelta(seconds=1))


async def _payment(uow_factory: SqlUnitOfWorkFactory, payment_id: str) -> Any:
    async with uow_factory(read_only=True) as uow:
        return await uow.payments.get(payment_id)


async def test_crash_after_stripe_created_the_payment_intent_is_finished_once(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    env = webhook_server_env(database_url, localstripe, **FAST_LEASE)
    pm = await localstripe.create_card_payment_method()
    crashing = ServerProcess.start({**env, FAILPOINTS: "payments.create.after_stripe"})
    with crashing:
        async with grpc.aio.insecure_channel(crashing.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.CreatePayment(
                    _create_request(pm, confirm=True), metadata=bearer(make_token()), timeout=20
                )
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert crashing.wait(10) == -9  # SIGKILL, as a power cut would
    [pending] = await _pending(uow_factory)
    assert pending.state is PaymentState.PENDING
    assert pending.stripe_payment_intent_id is None
    assert await localstripe.count_payment_intents(metadata={"payment_id": pending.id}) == 1

    # Restarted, the periodic reconciler finishes it once the dead request's lease ran out.
    with ServerProcess.start({**env, "PAYMENT_RECONCILE_INTERVAL_S": "1"}) as restarted:

        async def finished() -> Any:
            payment = await _payment(uow_factory, pending.id)
            return payment if payment.state is not PaymentState.PENDING else None

        try:
            payment = await wait_for(
                finished, within_s=30, what="the reconciler to finish the payment"
            )
        except AssertionError:
            raise AssertionError(restarted.output()[-5000:]) from None
    assert payment.state is PaymentState.SUCCEEDED
    assert await localstripe.count_payment_intents(metadata={"payment_id": pending.id}) == 1
    # An operator's pass afterwards changes nothing and makes no second PaymentIntent.
    result = run_cli({**env, **PATIENT_PASS}, "reconcile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finish_pending_payments: repaired=0" in result.stdout
    assert await localstripe.count_payment_intents(metadata={"payment_id": pending.id}) == 1


async def test_crash_then_reconcile_command_finishes_it(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    env = webhook_server_env(database_url, localstripe, **FAST_LEASE)
    pm = await localstripe.create_card_payment_method()
    with ServerProcess.start({**env, FAILPOINTS: "payments.create.after_stripe"}) as crashing:
        async with grpc.aio.insecure_channel(crashing.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.CreatePayment(
                    _create_request(pm, confirm=True), metadata=bearer(make_token()), timeout=20
                )
        crashing.wait(10)
    [pending] = await _pending(uow_factory)

    async def lease_over() -> bool:
        payment = await _payment(uow_factory, pending.id)
        return payment.lease_until is None or payment.lease_until <= utcnow()

    await wait_for(lease_over, within_s=15, what="the create lease to run out")
    result = run_cli({**env, **PATIENT_PASS}, "reconcile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finish_pending_payments: repaired=1" in result.stdout
    assert (await _payment(uow_factory, pending.id)).state is PaymentState.SUCCEEDED
    assert await localstripe.count_payment_intents(metadata={"payment_id": pending.id}) == 1


async def test_events_missed_while_the_sidecar_was_down_are_recovered(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    env = webhook_server_env(database_url, localstripe)
    pm = await localstripe.create_card_payment_method()
    webhook_id = f"e2e-down-{secrets.token_hex(4)}"
    with ServerProcess.start(env) as server:
        url = server.http_url + WEBHOOK_PATH
        await localstripe.register_webhook(webhook_id, url, SECRET)
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            created = (
                await stub.CreatePayment(
                    _create_request(pm, confirm=False), metadata=bearer(make_token()), timeout=20
                )
            ).payment
        # A first pass sets the events cursor while everything is delivered.
        first = run_cli({**env, **PATIENT_PASS}, "reconcile")
        assert first.returncode == 0, first.stdout + first.stderr
    # The sidecar is down now: the confirmation's webhook cannot be delivered.
    gateway = StripeGateway(
        StripeGatewayConfig(api_key=localstripe.api_key, api_base=localstripe.base_url)
    )
    try:
        await gateway.confirm_payment_intent(
            created.stripe_payment_intent_id,
            idempotency_key=f"{created.id}:browser",
            payment_method=pm,
        )
    finally:
        await gateway.close()
    await localstripe.wait_for_request("POST", "/v1/payment_intents", within_s=2)
    assert (await _payment(uow_factory, created.id)).state is PaymentState.REQUIRES_CONFIRMATION
    await localstripe.register_webhook(webhook_id, url, SECRET, events=["test.never"])

    result = run_cli({**env, **PATIENT_PASS}, "reconcile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "catch_up_events: repaired=" in result.stdout, result.stdout + result.stderr
    assert (await _payment(uow_factory, created.id)).state is PaymentState.SUCCEEDED
    record = await stored_event_for(
        uow_factory, "payment_intent.succeeded", created.stripe_payment_intent_id
    )
    assert record is not None
    assert json.loads(record.payload)["id"].startswith("evt_")

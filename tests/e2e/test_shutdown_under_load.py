"""SIGTERM under load: the real process exits within drain + grace + 1 s, and loses nothing.

The load: CreatePayment calls hanging on a stalled Stripe (they outlast the grace and must
be cut), loops of fast reads (they keep the listener and the database busy through the
drain) and a reconciler pass hanging on the same stalled Stripe (a busy background task).
The time is measured from the signal to the process's exit, by a thread already blocked in
``wait()`` when the signal is sent, so neither the start of the server nor the rest of the
test counts; the bound needs no allowance for a loaded machine because everything the
shutdown waits for is cut at its deadline, however slowly the machine runs. Afterwards a
new server, with Stripe back, finishes every payment that was cut, with one PaymentIntent.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import grpc
import grpc.aio
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.server import (
    ServerProcess,
    bearer,
    make_token,
    new_migrated_sqlite_url,
    server_env,
)

DRAIN_S, GRACE_S = 0.5, 2.0
# What the service promises: exit within drain + grace + this.
SLACK_S = 1.0
SLOW_CALLS = 6
READ_LOOPS = 3
# Far longer than the whole shutdown: a stalled Stripe call is still waiting when the grace
# ends, so only the shutdown's own deadline can end it.
STRIPE_TIMEOUT_S = "10"
# For waiting on something that must happen soon; only a broken server reaches it.
EVENT_TIMEOUT_S = 30.0
RETRIES_AFTER_UNAVAILABLE = 3
AUTH = bearer(make_token())
PaymentStub = payment_service_pb2_grpc.PaymentServiceStub


def _env(
    database_url: str, proxy: OutageProxy, localstripe: LocalStripe, **settings: str
) -> dict[str, str]:
    return server_env(
        database_url=database_url,
        stripe_api_base=proxy.base_url,
        stripe_api_key=localstripe.api_key,
        stripe_timeout_s=STRIPE_TIMEOUT_S,
        stripe_max_network_retries="0",
        **settings,
    )


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _account_with_card(env: dict[str, str], localstripe: LocalStripe) -> str:
    """An account whose Stripe customer and default card exist (made while Stripe is up)."""
    account = f"acct_{uuid.uuid4().hex[:12]}"
    card = await localstripe.create_card_payment_method("4242424242424242")
    with ServerProcess.start(env) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            await PaymentStub(channel).AttachPaymentMethod(
                pb.AttachPaymentMethodRequest(
                    request_id=f"card-{uuid.uuid4()}",
                    account_id=account,
                    stripe_payment_method_id=card,
                    set_default=True,
                ),
                metadata=AUTH,
                timeout=EVENT_TIMEOUT_S,
            )
    return account


async def _read_until_refused(stub: PaymentStub, account: str) -> int:
    """ListPayments again and again until the server stops answering; how many were OK."""
    answered = 0
    while True:
        try:
            await stub.ListPayments(
                pb.ListPaymentsRequest(account_id=account), metadata=AUTH, timeout=5
            )
        except grpc.aio.AioRpcError:
            return answered
        answered += 1


async def _signal_and_time_exit(server: ServerProcess) -> tuple[int, float]:
    """SIGTERM, then (exit code, seconds from the signal to the process's exit)."""
    waiting = threading.Event()
    exited: list[float] = []

    def wait() -> int:
        waiting.set()
        code = server.process.wait(EVENT_TIMEOUT_S)
        exited.append(time.monotonic())
        return code

    waiter = asyncio.ensure_future(asyncio.to_thread(wait))
    await asyncio.to_thread(waiting.wait, EVENT_TIMEOUT_S)
    signalled = time.monotonic()
    server.terminate()
    code = await waiter
    return code, exited[0] - signalled


async def _shut_down_under_load(
    env: dict[str, str], proxy: OutageProxy, requests: list[pb.CreatePaymentRequest]
) -> tuple[int, float, list[object], list[int], list[str]]:
    with ServerProcess.start(env) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = PaymentStub(channel)
            slow = [
                asyncio.ensure_future(stub.CreatePayment(r, metadata=AUTH, timeout=60))
                for r in requests
            ]
            reads = [
                asyncio.ensure_future(_read_until_refused(stub, requests[0].account_id))
                for _ in range(READ_LOOPS)
            ]
            await _until(
                lambda: (
                    proxy.stalled_count("POST /v1/payment_intents") >= len(requests)
                    and proxy.stalled_count("GET /v1/events") >= 1
                ),
                "every CreatePayment and a reconciler pass to hang on Stripe",
            )
            code, elapsed = await _signal_and_time_exit(server)
            outcomes = await asyncio.gather(*slow, return_exceptions=True)
            answered = await asyncio.gather(*reads)
    messages = [str(record.get("message")) for record in server.records()]
    return code, elapsed, list(outcomes), list(answered), messages


async def test_sigterm_under_load_exits_within_drain_plus_grace_and_loses_nothing(
    localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    database_url = new_migrated_sqlite_url()
    account = await _account_with_card(
        _env(database_url, outage_proxy, localstripe, reconcile_interval_s="0"), localstripe
    )
    requests = [
        pb.CreatePaymentRequest(
            request_id=f"slow-{i}-{uuid.uuid4()}",
            account_id=account,
            amount=1000 + i,
            currency_code="usd",
            confirm=True,
        )
        for i in range(SLOW_CALLS)
    ]
    # Stalled before the server starts: its first reconciler pass hangs in /v1/events.
    outage_proxy.stall()
    loaded = _env(
        database_url,
        outage_proxy,
        localstripe,
        shutdown_drain_s=str(DRAIN_S),
        shutdown_grace_s=str(GRACE_S),
        reconcile_interval_s="0.2",
        webhook_retry_poll_s="0.2",
    )
    code, elapsed, outcomes, answered, messages = await _shut_down_under_load(
        loaded, outage_proxy, requests
    )
    print(f"SIGTERM to exit under load: {elapsed:.2f}s (bound {DRAIN_S + GRACE_S + SLACK_S}s)")
    assert code == 0
    assert elapsed <= DRAIN_S + GRACE_S + SLACK_S, f"SIGTERM to exit took {elapsed:.2f}s"
    # The hanging calls were cut (none answered), the reads were answered until the end.
    assert all(isinstance(outcome, grpc.aio.AioRpcError) for outcome in outcomes), outcomes
    assert all(count > 0 for count in answered), answered
    assert "shutting down" in messages, messages
    assert messages[-1] == "stopped", messages
    outage_proxy.up()
    await _finish_cut_payments(_env(database_url, outage_proxy, localstripe), requests, localstripe)


async def _finish_cut_payments(
    env: dict[str, str], requests: list[pb.CreatePaymentRequest], localstripe: LocalStripe
) -> None:
    """Each cut CreatePayment, sent again with its request_id, succeeds with one PaymentIntent."""
    with ServerProcess.start({**env, "PAYMENT_RECONCILE_INTERVAL_S": "0"}) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = PaymentStub(channel)
            for request in requests:
                payment = await _create_until_known(stub, request)
                assert payment.state == pb.PAYMENT_STATE_SUCCEEDED
                assert payment.amount == request.amount
                intents = await localstripe.count_payment_intents(
                    metadata={"payment_id": payment.id}
                )
                assert intents == 1


async def _create_until_known(stub: PaymentStub, request: pb.CreatePaymentRequest) -> pb.Payment:
    """CreatePayment as a caller sends it: UNAVAILABLE (the outcome not known yet: a slow
    localstripe on a busy machine) is retried with the same request_id, as the API says."""
    for _ in range(RETRIES_AFTER_UNAVAILABLE):
        try:
            reply = await stub.CreatePayment(request, metadata=AUTH, timeout=EVENT_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            await asyncio.sleep(0.5)
            continue
        return reply.payment
    return (await stub.CreatePayment(request, metadata=AUTH, timeout=EVENT_TIMEOUT_S)).payment

"""The grpc.aio channel against an in-process gRPC server: the token, deadlines and
UNAVAILABLE retried by gRPC's retry policy (which grpc_testing's channel cannot show).

The servicer here is a stand-in (a real server on a free port, not the payment service):
it records what arrives and fails on cue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import grpc.aio
import payments_client
import pytest
import pytest_asyncio
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

from payment_service.api.grpc.errors import rich_status_for, to_grpc_status
from payment_service.domain.errors import Unavailable


@dataclass
class Recorder(rpc.PaymentServiceServicer):
    unavailable_first: int = 0  # answer UNAVAILABLE this many times, then succeed
    calls: list[tuple[str, float | None]] = field(
        default_factory=list
    )  # (authorization, time left)

    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPaymentResponse:
        metadata = dict(context.invocation_metadata() or ())
        self.calls.append((str(metadata.get("authorization", "")), context.time_remaining()))
        if len(self.calls) <= self.unavailable_first:
            status = to_grpc_status(rich_status_for(Unavailable("db down", retry_after_seconds=2)))
            await context.abort_with_status(status)
        return pb.GetPaymentResponse(payment=pb.Payment(id=request.id))


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()
    grpc_server = grpc.aio.server()
    rpc.add_PaymentServiceServicer_to_server(recorder, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        yield f"127.0.0.1:{port}", recorder
    finally:
        await grpc_server.stop(0)


async def token() -> str:
    return "async-token"


async def test_an_async_token_and_default_deadlines_reach_the_server(
    server: tuple[str, Recorder],
) -> None:
    target, recorder = server
    async with payments_client.aio_channel(
        target, token_provider=token, default_timeout_s=7.0, timeouts={"CreatePayment": 1.0}
    ) as channel:
        payments = rpc.PaymentServiceStub(channel)
        await payments.GetPayment(pb.GetPaymentRequest(id="pay_1"))
        await payments.GetPayment(pb.GetPaymentRequest(id="pay_1"), timeout=20)
    full_name = "/payments.v1.PaymentService/GetPayment"
    async with payments_client.aio_channel(target, timeouts={full_name: 3.0}) as channel:
        await rpc.PaymentServiceStub(channel).GetPayment(pb.GetPaymentRequest(id="pay_1"))
    (auth, default), (_, explicit), (no_auth, per_method) = recorder.calls
    assert (auth, no_auth) == ("Bearer async-token", "")
    # The wire format of a deadline rounds it up a little.
    assert 6.0 < (default or 0) <= 7.5
    assert 19.0 < (explicit or 0) <= 20.5
    assert 2.0 < (per_method or 0) <= 3.5


async def test_unavailable_is_retried_with_backoff_until_it_succeeds(
    server: tuple[str, Recorder],
) -> None:
    target, recorder = server
    recorder.unavailable_first = 2
    retry = payments_client.RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05)
    async with payments_client.aio_channel(target, retry=retry) as channel:
        reply = await rpc.PaymentServiceStub(channel).GetPayment(pb.GetPaymentRequest(id="pay_2"))
    assert reply.payment.id == "pay_2"
    assert len(recorder.calls) == 3


async def test_without_retries_unavailable_is_raised_typed(server: tuple[str, Recorder]) -> None:
    target, recorder = server
    recorder.unavailable_first = 1
    async with payments_client.aio_channel(target, retry=None) as channel:
        with pytest.raises(payments_client.Unavailable) as raised:
            await rpc.PaymentServiceStub(channel).GetPayment(pb.GetPaymentRequest(id="pay_3"))
    assert (raised.value.reason, raised.value.retry_after) == ("UNAVAILABLE", 2.0)
    assert len(recorder.calls) == 1

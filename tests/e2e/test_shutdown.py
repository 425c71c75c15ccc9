"""Graceful shutdown of the real process on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import time

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from payments.v1 import payment_service_pb2, payment_service_pb2_grpc

from tests.support.server import ServerProcess, bearer, make_token, server_env

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _slow_server(delay_s: float, *, drain_s: float, grace_s: float) -> ServerProcess:
    env = server_env(shutdown_drain_s=str(drain_s), shutdown_grace_s=str(grace_s))
    env["E2E_SLOW_RPC_SECONDS"] = str(delay_s)
    return ServerProcess.start(env, module="tests.e2e.slow_server", args=())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_watch_sees_not_serving_then_process_exits_0(signum: signal.Signals) -> None:
    with ServerProcess.start(server_env(shutdown_drain_s="0.5", shutdown_grace_s="2")) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            overall = stub.Watch(health_pb2.HealthCheckRequest(service=""))
            payments = stub.Watch(
                health_pb2.HealthCheckRequest(service="payments.v1.PaymentService")
            )
            assert (await overall.read()).status == SERVING
            assert (await payments.read()).status == SERVING
            server.process.send_signal(signum)
            assert (await asyncio.wait_for(overall.read(), 5)).status == NOT_SERVING
            assert (await asyncio.wait_for(payments.read(), 5)).status == NOT_SERVING
            # Check agrees while the drain period lasts.
            check = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            assert check.status == NOT_SERVING
            overall.cancel()
            payments.cancel()
        assert await asyncio.to_thread(server.wait, 10) == 0
    messages = [r["message"] for r in server.records()]
    assert messages.index("shutting down") < messages.index("stopped")


# Bounds are set far apart (a grace many times longer than what the test waits for), so a
# loaded machine can slow every step by seconds and the order they prove still holds.


async def test_call_in_flight_at_sigterm_completes_and_exit_is_prompt() -> None:
    drain_s, grace_s = 0.3, 20.0
    with _slow_server(1.5, drain_s=drain_s, grace_s=grace_s) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            call = asyncio.ensure_future(
                stub.GetPayment(
                    payment_service_pb2.GetPaymentRequest(id="pay_in_flight"),
                    metadata=bearer(make_token("payments:read")),
                    timeout=30,
                )
            )
            await asyncio.to_thread(server.wait_for_record, "slow call started")
            signalled = time.monotonic()
            server.terminate()
            response = await call
            exit_code = await asyncio.to_thread(server.wait, drain_s + grace_s + 5)
            elapsed = time.monotonic() - signalled
    assert response.payment.id == "pay_in_flight"
    assert exit_code == 0
    # Prompt: the process left once the call was done, long before the grace ran out.
    assert elapsed < grace_s / 2
    access = [r for r in server.records() if r.get("logger") == "payment_service.access"]
    assert [(r["method"], r["code"]) for r in access] == [
        ("/payments.v1.PaymentService/GetPayment", "OK")
    ]


async def test_call_longer_than_grace_is_cut_and_exit_is_still_0() -> None:
    drain_s, grace_s = 0.2, 2.0
    with _slow_server(60, drain_s=drain_s, grace_s=grace_s) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            call = asyncio.ensure_future(
                stub.GetPayment(
                    payment_service_pb2.GetPaymentRequest(id="pay_too_slow"),
                    metadata=bearer(make_token("payments:read")),
                    timeout=30,
                )
            )
            await asyncio.to_thread(server.wait_for_record, "slow call started")
            signalled = time.monotonic()
            server.terminate()
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            exit_code = await asyncio.to_thread(server.wait, 10)
            elapsed = time.monotonic() - signalled
    assert raised.value.code() in {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}
    assert exit_code == 0
    # The call was given the grace, then cut: it ends after the grace and long before its 60 s.
    assert grace_s <= elapsed < 30


async def test_open_watch_streams_end_after_the_drain_instead_of_holding_the_grace() -> None:
    drain_s, grace_s = 0.3, 30.0
    env = server_env(shutdown_drain_s=str(drain_s), shutdown_grace_s=str(grace_s))
    with ServerProcess.start(env) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            assert (await watch.read()).status == SERVING
            started = time.monotonic()
            server.terminate()
            # In order: NOT_SERVING, then the stream ends (status OK), then the process exits.
            assert (await asyncio.wait_for(watch.read(), 10)).status == NOT_SERVING
            assert await asyncio.wait_for(watch.read(), 10) is grpc.aio.EOF
            ended = time.monotonic() - started
            assert await watch.code() == grpc.StatusCode.OK
            assert await asyncio.to_thread(server.wait, grace_s + 10) == 0
            exited = time.monotonic() - started
    # The open stream did not hold the shutdown for the grace (30 s): it ended after the
    # drain and the process left soon after.
    assert drain_s <= ended < grace_s / 3
    assert exited < grace_s / 3

"""Graceful shutdown of the real process on SIGTERM/SIGINT.

These tests must hold on a loaded machine, so they assert order and wide bounds rather
than close timings: each test makes the durations it tells apart far from each other
(a drain of tenths of a second against a grace of many seconds, a grace of seconds against
a call of a minute), waits for events (a log record, a health status, the end of a
stream) instead of sleeping, and bounds from below only what load cannot shorten.
"""

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
# How long to wait for something that must happen soon, before calling it a failure. Generous:
# only a broken server reaches it, a slow machine never should.
EVENT_TIMEOUT_S = 30.0
# Timers fire on the monotonic clock, but allow for the ones in gRPC's core when bounding below.
TIMER_SLACK_S = 0.1


def _slow_server(delay_s: float, *, drain_s: float, grace_s: float) -> ServerProcess:
    env = server_env(shutdown_drain_s=str(drain_s), shutdown_grace_s=str(grace_s))
    env["E2E_SLOW_RPC_SECONDS"] = str(delay_s)
    return ServerProcess.start(env, module="tests.e2e.slow_server", args=())


def _messages(server: ServerProcess) -> list[str]:
    return [record["message"] for record in server.records()]


def _assert_logged_in_order(server: ServerProcess, *messages: str) -> None:
    logged = _messages(server)
    for message in messages:
        assert message in logged, f"no {message!r} log record:\n{server.output()}"
    positions = [logged.index(message) for message in messages]
    assert positions == sorted(positions), f"not logged in order {messages}:\n{server.output()}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_watch_sees_not_serving_then_process_exits_0(signum: signal.Signals) -> None:
    # A long drain: Check below must land inside it however slowly this process runs.
    drain_s, grace_s = 2.0, 2.0
    env = server_env(shutdown_drain_s=str(drain_s), shutdown_grace_s=str(grace_s))
    with ServerProcess.start(env) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            overall = stub.Watch(health_pb2.HealthCheckRequest(service=""))
            payments = stub.Watch(
                health_pb2.HealthCheckRequest(service="payments.v1.PaymentService")
            )
            assert (await overall.read()).status == SERVING
            assert (await payments.read()).status == SERVING
            server.process.send_signal(signum)
            assert (await asyncio.wait_for(overall.read(), EVENT_TIMEOUT_S)).status == NOT_SERVING
            assert (await asyncio.wait_for(payments.read(), EVENT_TIMEOUT_S)).status == NOT_SERVING
            # Check agrees while shutdown waits (the drain, workers stopping meanwhile): the listener
            # closes after the drain and refuses new calls, so any answer came before that.
            check = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            assert check.status == NOT_SERVING
            overall.cancel()
            payments.cancel()
        assert await asyncio.to_thread(server.wait, EVENT_TIMEOUT_S) == 0
    _assert_logged_in_order(server, "shutting down", "stopping grpc server", "stopped")


async def test_call_in_flight_at_sigterm_completes_and_exit_is_prompt() -> None:
    # The call needs seconds; the grace allows far more: the process must leave when the
    # call is done, long before the grace would run out.
    delay_s, drain_s, grace_s = 3.0, 0.3, 20.0
    with _slow_server(delay_s, drain_s=drain_s, grace_s=grace_s) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            call = asyncio.ensure_future(
                stub.GetPayment(
                    payment_service_pb2.GetPaymentRequest(id="pay_in_flight"),
                    metadata=bearer(make_token("payments:read")),
                    timeout=60,
                )
            )
            await asyncio.to_thread(server.wait_for_record, "slow call started", EVENT_TIMEOUT_S)
            signalled = time.monotonic()
            server.terminate()
            response = await call
            exit_code = await asyncio.to_thread(server.wait, drain_s + grace_s + EVENT_TIMEOUT_S)
            elapsed = time.monotonic() - signalled
    assert response.payment.id == "pay_in_flight"
    assert exit_code == 0
    assert elapsed < grace_s, f"exit took {elapsed:.1f}s: the process sat out its grace"
    # The call was still in flight when shutdown began, and it finished (OK) before the end.
    _assert_logged_in_order(server, "shutting down", "stopping grpc server", "rpc", "stopped")
    access = [r for r in server.records() if r.get("logger") == "payment_service.access"]
    assert [(r["method"], r["code"]) for r in access] == [
        ("/payments.v1.PaymentService/GetPayment", "OK")
    ]


async def test_call_longer_than_grace_is_cut_and_exit_is_still_0() -> None:
    # The call would take a minute; the grace is two seconds: only the grace can end it this
    # side of the minute.
    delay_s, drain_s, grace_s = 60.0, 0.2, 2.0
    with _slow_server(delay_s, drain_s=drain_s, grace_s=grace_s) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            call = asyncio.ensure_future(
                stub.GetPayment(
                    payment_service_pb2.GetPaymentRequest(id="pay_too_slow"),
                    metadata=bearer(make_token("payments:read")),
                    timeout=delay_s * 2,
                )
            )
            await asyncio.to_thread(server.wait_for_record, "slow call started", EVENT_TIMEOUT_S)
            signalled = time.monotonic()
            server.terminate()
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            cut_after = time.monotonic() - signalled
            exit_code = await asyncio.to_thread(server.wait, EVENT_TIMEOUT_S)
            elapsed = time.monotonic() - signalled
    assert raised.value.code() in {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}
    # The call had its drain and grace (load only makes that later) and was then cut ...
    assert cut_after >= drain_s + grace_s - TIMER_SLACK_S
    # ... and the process still exits cleanly, long before the call would have ended.
    assert exit_code == 0
    assert elapsed < drain_s + grace_s + 15 < delay_s
    _assert_logged_in_order(server, "shutting down", "stopping grpc server", "stopped")


async def test_open_watch_streams_end_after_the_drain_instead_of_holding_the_grace() -> None:
    # A short drain against a long grace: an open Watch that held shutdown would keep the
    # process for the whole grace and then be cancelled, which load cannot be mistaken for.
    drain_s, grace_s = 0.3, 20.0
    env = server_env(
        shutdown_drain_s=str(drain_s),
        shutdown_grace_s=str(grace_s),
        # Workers have until the end of the grace; the reconciler's first pass against the
        # unreachable Stripe retries for seconds and is not what this test measures.
        reconcile_interval_s="0",
    )
    with ServerProcess.start(env) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            assert (await watch.read()).status == SERVING
            signalled = time.monotonic()
            server.terminate()
            assert (await asyncio.wait_for(watch.read(), EVENT_TIMEOUT_S)).status == NOT_SERVING
            # Ended by the server with status OK, not cancelled by the end of the grace.
            assert await asyncio.wait_for(watch.read(), EVENT_TIMEOUT_S) is grpc.aio.EOF
            ended_after = time.monotonic() - signalled
            assert await watch.code() == grpc.StatusCode.OK
            exit_code = await asyncio.to_thread(server.wait, drain_s + grace_s + EVENT_TIMEOUT_S)
            elapsed = time.monotonic() - signalled
    # Open for the drain (watchers saw NOT_SERVING first), closed long before the grace ran out.
    assert drain_s <= ended_after < grace_s
    assert exit_code == 0
    assert elapsed < grace_s, f"exit took {elapsed:.1f}s: the Watch stream held the grace"
    _assert_logged_in_order(server, "shutting down", "stopping grpc server", "stopped")

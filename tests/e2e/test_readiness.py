"""Readiness follows the database, liveness only the process, Redis never readiness.

The real server process runs on a private PostgreSQL and a private Redis (stopping the
shared ones would break every other test). Through the gRPC health protocol, as
Kubernetes probes it: with Redis stopped the server stays SERVING (degraded, the
``dependency_up`` gauge says so); with PostgreSQL stopped ``""`` and every payments.v1
service turn NOT_SERVING within a few seconds (Check, and an open Watch stream sees it),
and SERVING again within a few seconds of its restart; ``liveness`` is SERVING all along.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.postgres_server import PrivatePostgres
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, server_env

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
READINESS = ["", "payments.v1.PaymentService", "payments.v1.RefundService"]
LIVENESS = "liveness"
# The probe runs every second with a one-second timeout; "a few seconds" is this.
SEEN_WITHIN_S = 5.0


async def _check(stub: Any, service: str) -> int:
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return int(reply.status)


async def _statuses(stub: Any) -> dict[str, int]:
    return {name: await _check(stub, name) for name in [*READINESS, LIVENESS]}


async def _next_status(watch: Any, within_s: float) -> int:
    async with asyncio.timeout(within_s):
        reply = await watch.read()
    assert reply is not grpc.aio.EOF
    return int(reply.status)


async def _redis_up_gauge(server: ServerProcess) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.http_url}/metrics") as response,
    ):
        text = await response.text()
    for line in text.splitlines():
        if line.startswith('dependency_up{dependency="redis"}'):
            return line.split()[-1]
    return "missing"


async def _until_gauge(server: ServerProcess, expected: str) -> None:
    deadline = time.monotonic() + SEEN_WITHIN_S
    while (found := await _redis_up_gauge(server)) != expected:
        assert time.monotonic() < deadline, f"dependency_up redis {found}, not {expected}"
        await asyncio.sleep(0.1)


async def test_readiness_follows_the_database_and_liveness_only_the_process(
    private_postgres: PrivatePostgres, private_redis: RedisServer
) -> None:
    env = server_env(
        database_url=private_postgres.url,
        redis_url=private_redis.url,
        reconcile_interval_s="0",
    )
    with ServerProcess.start(env) as server:
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub: Any = health_pb2_grpc.HealthStub(channel)  # its stubs type no methods
            overall = stub.Watch(health_pb2.HealthCheckRequest(service=""))
            liveness = stub.Watch(health_pb2.HealthCheckRequest(service=LIVENESS))
            assert await _next_status(overall, SEEN_WITHIN_S) == SERVING
            assert await _next_status(liveness, SEEN_WITHIN_S) == SERVING
            assert set((await _statuses(stub)).values()) == {SERVING}

            # Redis away: degraded (the gauge says so), never unready.
            await asyncio.to_thread(private_redis.stop)
            await _until_gauge(server, "0.0")
            assert set((await _statuses(stub)).values()) == {SERVING}
            await asyncio.to_thread(private_redis.start)

            # PostgreSQL away: NOT_SERVING for readiness, liveness untouched.
            stopped_at = time.monotonic()
            await asyncio.to_thread(private_postgres.stop, "fast")
            assert await _next_status(overall, SEEN_WITHIN_S) == NOT_SERVING
            assert time.monotonic() - stopped_at < SEEN_WITHIN_S
            statuses = await _statuses(stub)
            assert statuses == {**dict.fromkeys(READINESS, NOT_SERVING), LIVENESS: SERVING}

            # Back: SERVING again within a few seconds.
            await asyncio.to_thread(private_postgres.start)
            assert await _next_status(overall, SEEN_WITHIN_S) == SERVING
            assert set((await _statuses(stub)).values()) == {SERVING}

            # Liveness never changed: its stream has nothing new to say.
            with pytest.raises(TimeoutError):
                await _next_status(liveness, 0.5)
            overall.cancel()
            liveness.cancel()
        records = [r for r in server.records() if r.get("dependency") == "database"]
        assert [r["message"] for r in records] == [
            "dependency unreachable; not ready",
            "dependency answers again",
        ]

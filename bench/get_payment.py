"""Benchmark: cached GetPayment against a no-op RPC (health Check) on the real server process.

Starts localstripe and `payment-service serve` (SQLite, in-memory cache) on free
loopback ports, creates one succeeded payment, then drives each RPC from this
process with N concurrent callers for a fixed number of calls and prints
throughput and latency percentiles. The client shares the machine's two cores
with the server, so the numbers are a floor, not the server's ceiling.

    .venv/bin/python bench/get_payment.py [--calls 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

from payment_service.config import Settings
from payment_service.security.tokens import mint_token

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdef0123456789"


def start(
    cmd: list[str], env: dict[str, str], ready: Callable[[str], bool]
) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if ready(line):
            # Keep reading (and dropping) its output, or a full pipe would stall the process.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, line
    raise SystemExit(f"{cmd[1:]} did not start")


async def drive(
    name: str, calls: int, concurrency: int, one: Callable[[], Awaitable[object]]
) -> None:
    latencies: list[float] = []
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    for _ in range(200):  # warm-up
        await one()
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    pct = lambda p: latencies[int(p * (len(latencies) - 1))] * 1000  # noqa: E731
    print(
        f"{name:<28} {len(latencies) / elapsed:8.0f} calls/s   p50 {pct(0.5):6.2f} ms   "
        f"p99 {pct(0.99):6.2f} ms   mean {statistics.fmean(latencies) * 1000:6.2f} ms"
    )


def start_servers() -> tuple[subprocess.Popen[str], subprocess.Popen[str], int]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    stripe, line = start(
        [sys.executable, "tools/localstripe_server.py", "--port", "0", "--no-access-log"],
        env,
        lambda text: text.startswith("LOCALSTRIPE_LISTENING"),
    )
    env.update(
        PAYMENT_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        PAYMENT_STRIPE_API_BASE=line.split()[1],
        PAYMENT_STRIPE_API_KEY="sk_test_bench",
        PAYMENT_AUTH_HS256_SECRET=SECRET,
        PAYMENT_PII_ENCRYPTION_KEYS='["bench:YmVuY2gtb25seS1waWkta2V5LTMyLWJ5dGVzLWxvbmc="]',
        PAYMENT_GRPC_PORT="0",
        PAYMENT_HTTP_PORT="0",
    )
    migrate = [sys.executable, "-m", "payment_service.cli", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True, cwd=ROOT)
    server, serving = start(
        [sys.executable, "-m", "payment_service.cli", "serve"],
        env,
        lambda text: '"serving"' in text,
    )
    return stripe, server, int(json.loads(serving)["grpc_port"])


async def run(port: int, calls: int, concurrency: int) -> None:
    settings = Settings(auth_hs256_secret=SECRET)
    token = mint_token(
        settings, sub="bench", scopes=["payments:read", "payments:write"], ttl_s=3600
    )
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        payments = rpc.PaymentServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        await payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id="bench-pm",
                account_id="acct_bench",
                stripe_payment_method_id="pm_card_visa",
            ),
            metadata=metadata,
        )
        created = await payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id="bench-pay",
                account_id="acct_bench",
                amount=1050,
                currency_code="usd",
                confirm=True,
            ),
            metadata=metadata,
        )
        request = pb.GetPaymentRequest(id=created.payment.id)
        print(
            f"{calls} calls per row, {concurrency} concurrent callers, client and server on one machine"
        )
        await drive(
            "health Check (no-op, no auth)",
            calls,
            concurrency,
            lambda: health.Check(health_pb2.HealthCheckRequest()),
        )
        await drive(
            "GetPayment (cached)",
            calls,
            concurrency,
            lambda: payments.GetPayment(request, metadata=metadata),
        )


def main(calls: int, concurrency: int) -> None:
    stripe, server, port = start_servers()
    try:
        asyncio.run(run(port, calls, concurrency))
    finally:
        server.terminate()
        stripe.terminate()
        server.wait(15)
        stripe.wait(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    main(args.calls, args.concurrency)

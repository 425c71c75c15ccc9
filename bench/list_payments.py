"""Benchmark: ListPayments pages at 1M payment rows on PostgreSQL, against a no-op RPC.

Creates (or reuses) its own PostgreSQL database, loads 1,000,000 payment rows with one
``INSERT … SELECT generate_series`` (800,000 of them for the listed account, the rest
spread over 100 others; every row's ``receipt_email`` and ``client_secret`` hold values
sealed by the service's own cipher, as a real payment's do), starts
``payment-service serve`` on it pinned to core 0 (in-memory cache, rate limits off,
reconciler off), and from this process, pinned to core 1, calls one at a time:

* the health ``Check`` (no auth, no database: the server's cheapest call, the baseline),
* ListPayments page 1, a mid page (page 5,000) and a deep page (page 10,000) of 50,
  the later ones resumed from a page token of the row just before them.

Rounds alternate the four; each prints the median client-observed latency and the
server CPU per call (from /proc), and the summary prints the medians over rounds
and, last, the ratio of each page to the health Check.

    .venv/bin/python bench/list_payments.py [--rounds 5] [--calls 200] [--reload]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import grpc.aio
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from harness import cpu_seconds, start_process
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

from payment_service.config import Settings
from payment_service.domain.pagination import Cursor, encode_page_token, filter_fingerprint
from payment_service.security.field_cipher import FieldCipher
from payment_service.security.tokens import mint_token

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdef0123456789"
PII_KEY = "bench:YmVuY2gtb25seS1waWkta2V5LTMyLWJ5dGVzLWxvbmc="
DATABASE = "bench_list_payments"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
ACCOUNT = "acct_bench"
ROWS = 1_000_000
ACCOUNT_ROWS = 800_000
PAGE = 50
PAGES = {"page 1": 1, "page 5,000": 5_000, "page 10,000": 10_000}

LOAD = """
INSERT INTO transactions (
    id, account_id, customer_id, caller, request_id, request_hash, amount, currency,
    amount_capturable, amount_received, amount_refunded, stripe_amount_refunded, state,
    capture_method, payment_method, description, receipt_email, receipt_url, client_secret,
    stripe_payment_intent_id, metadata, confirm_on_create, synced_at, create_time,
    update_time, version, off_session, refund_blocked_by_dispute)
SELECT
    'pay_01J' || lpad(g::text, 23, '0'),
    CASE WHEN g <= %(account_rows)s THEN %(account)s ELSE 'acct_other_' || (g %% 100) END,
    NULL, 'bench', 'req-' || g, repeat('a', 64), 1000 + g %% 5000, 'usd',
    0, 1000 + g %% 5000, 0, 0,
    (ARRAY['succeeded', 'succeeded', 'succeeded', 'canceled', 'failed'])[1 + g %% 5],
    'automatic', 'pm_card_visa', 'order ' || g, %(email)s,
    'https://pay.stripe.com/receipts/' || g, %(secret)s, 'pi_bench_' || g,
    '{"order": "42", "channel": "web"}'::json, true, t, t, t, 1, false, false
FROM generate_series(1, %(rows)s) AS g,
     LATERAL (SELECT timestamptz '2024-01-01' + g * interval '1 second' AS t) AS times
"""


def load_database(reload: bool) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
        ).fetchone()
        if exists and reload:
            admin.execute(f"DROP DATABASE {DATABASE} WITH (FORCE)")
            exists = None
        if not exists:
            admin.execute(f"CREATE DATABASE {DATABASE}")
    env = server_env()
    migrate = [sys.executable, "-m", "payment_service.cli", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True, cwd=ROOT)
    with psycopg.connect(DSN, autocommit=True) as db:
        row = db.execute("SELECT count(*), count(client_secret) FROM transactions").fetchone()
        if row == (ROWS, ROWS):
            print(f"reusing {DATABASE}: {ROWS:,} payment rows")
            return
        db.execute("TRUNCATE transactions CASCADE")
        cipher = FieldCipher.from_specs([PII_KEY])
        email = cipher.encrypt("buyer@example.com", context="transactions.receipt_email")
        secret = cipher.encrypt("pi_bench_secret_0123456789", context="transactions.client_secret")
        began = time.perf_counter()
        params = {
            "rows": ROWS,
            "account_rows": ACCOUNT_ROWS,
            "account": ACCOUNT,
            "email": email,
            "secret": secret,
        }
        db.execute(LOAD, params)
        db.execute("VACUUM ANALYZE transactions")
        print(f"loaded {ROWS:,} payment rows in {time.perf_counter() - began:.1f} s")


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env.update(
        PAYMENT_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
        PAYMENT_STRIPE_API_BASE="http://127.0.0.1:9",  # never called: lists read only the database
        PAYMENT_STRIPE_API_KEY="sk_test_bench",
        PAYMENT_AUTH_HS256_SECRET=SECRET,
        PAYMENT_PII_ENCRYPTION_KEYS=json.dumps([PII_KEY]),
        PAYMENT_GRPC_PORT="0",
        PAYMENT_HTTP_PORT="0",
        PAYMENT_RATE_LIMIT_ENABLED="false",
        PAYMENT_RECONCILE_INTERVAL_S="0",
    )
    return env


def deep_token(page_number: int) -> str:
    """The token the service hands out after page ``page_number - 1`` of the listing."""
    if page_number == 1:
        return ""
    with psycopg.connect(DSN) as db:
        row = db.execute(
            "SELECT create_time, id FROM transactions WHERE account_id = %s"
            " ORDER BY create_time DESC, id DESC OFFSET %s LIMIT 1",
            [ACCOUNT, (page_number - 1) * PAGE - 1],
        ).fetchone()
    assert row is not None
    create_time: datetime = row[0]
    filters = {
        "list": "payments",
        "account_id": ACCOUNT,
        "states": frozenset(),
        "created_after": None,
        "created_before": None,
    }
    return encode_page_token(Cursor(create_time, row[1]), filter_fingerprint(filters))


async def timed(calls: int, pid: int, one: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(median client latency in ms, server CPU per call in ms) over ``calls`` calls."""
    for _ in range(20):
        await one()
    latencies = []
    cpu_before = cpu_seconds(pid)
    for _ in range(calls):
        started = time.perf_counter()
        await one()
        latencies.append(time.perf_counter() - started)
    cpu = (cpu_seconds(pid) - cpu_before) / calls
    return statistics.median(latencies) * 1000, cpu * 1000


async def run(port: int, pid: int, rounds: int, calls: int) -> None:
    settings = Settings(auth_hs256_secret=SECRET)
    token = mint_token(settings, sub="bench", scopes=["payments:read"], ttl_s=3600)
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        payments = rpc.PaymentServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        calls_by_name: dict[str, Callable[[], Awaitable[object]]] = {
            "health Check": lambda: health.Check(health_pb2.HealthCheckRequest())
        }
        for name, number in PAGES.items():
            request = pb.ListPaymentsRequest(
                account_id=ACCOUNT, page_size=PAGE, page_token=deep_token(number)
            )
            answer = await payments.ListPayments(request, metadata=metadata)
            assert len(answer.payments) == PAGE, name
            assert answer.next_page_token, name
            calls_by_name[name] = lambda request=request: payments.ListPayments(  # type: ignore[misc]
                request, metadata=metadata
            )
        # The token the service hands out resumes where the handed-out page ended.
        first = await payments.ListPayments(
            pb.ListPaymentsRequest(account_id=ACCOUNT, page_size=PAGE), metadata=metadata
        )
        second = await payments.ListPayments(
            pb.ListPaymentsRequest(
                account_id=ACCOUNT, page_size=PAGE, page_token=first.next_page_token
            ),
            metadata=metadata,
        )
        assert second.payments[0].id < first.payments[-1].id
        print(f"{calls} sequential calls per cell; server on core 0, this client on core 1")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in calls_by_name}
        names = list(calls_by_name)
        for number in range(rounds):
            order = names if number % 2 == 0 else names[::-1]
            cells = []
            for name in order:
                median, cpu = await timed(calls, pid, calls_by_name[name])
                results[name].append((median, cpu))
                cells.append(f"{name} {median:.2f} ms ({cpu:.2f} ms CPU)")
            print(f"round {number + 1}: " + ", ".join(cells))
        print(f"\nmedians of {rounds} rounds (client latency, server CPU per call):")
        health_ms = statistics.median(m for m, _ in results["health Check"])
        for name in names:
            median = statistics.median(m for m, _ in results[name])
            cpu = statistics.median(c for _, c in results[name])
            print(f"  {name:<14} {median:6.2f} ms   {cpu:6.2f} ms CPU")
        ratios = ", ".join(
            f"{name} {statistics.median(m for m, _ in results[name]) / health_ms:.1f}x"
            for name in names[1:]
        )
        print(f"ratio to the health Check: {ratios}")


def main(rounds: int, calls: int, reload: bool) -> None:
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 cores: the server on one, this client on the other")
    load_database(reload)
    os.sched_setaffinity(0, {1})
    server, serving = start_process(
        ["taskset", "-c", "0", sys.executable, "-m", "payment_service.cli", "serve"],
        server_env(),
        lambda text: '"serving"' in text,
    )
    try:
        asyncio.run(run(int(json.loads(serving)["grpc_port"]), server.pid, rounds, calls))
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--reload", action="store_true", help="drop and reload the database")
    args = parser.parse_args()
    main(args.rounds, args.calls, args.reload)
